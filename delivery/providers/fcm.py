"""Push through Firebase Cloud Messaging (HTTP v1) with firebase-admin.

A push goes to every active device of the user, one FCM message per registration token,
sent in batches with `send_each` (one request per token; a bad token never fails the batch).
The batch counts as delivered when any device accepted it: sending again because another
device failed would duplicate it on those that did. Otherwise it is retryable if any device
failed transiently, else permanent. Tokens FCM calls dead (UNREGISTERED, or INVALID_ARGUMENT
about the token itself) are reported in `invalid_addresses` whatever the outcome, so the
caller can deactivate those devices; errors that mean our project or credentials are wrong
(SENDER_ID_MISMATCH, auth) are permanent but leave the devices alone.

Several deliveries are not merged into one `send_each` call. FCM v1 has no batch request any
more: `send_each` is one HTTP request per message on a thread of its own, which is what the
send pool (delivery/send_pool.py) already does across a chunk's deliveries, while merging
would tie each delivery's breaker choice, rate-limit slot and record to its neighbours'. The
app's session is shared by those threads, as firebase-admin itself shares it across
`send_each`'s; its pool keeps FCM_BATCH_SIZE connections.

firebase-admin has no setting for two things we need. FCM's URL is a class attribute read
when an app's messaging service is created, so a local server (FCM_ENDPOINT_URL) is set just
around that moment. And the service's session retries 500/503 up to four times with backoff
(seconds per send): we replace its adapters with ones that never retry, as Celery owns
retries. Its session reads the environment's proxy settings once (delivery/providers/http_session.py).
"""

from __future__ import annotations

import logging
import uuid
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import firebase_admin
import requests
from firebase_admin import credentials, messaging
from firebase_admin import exceptions as firebase_exceptions
from google.auth import exceptions as google_auth_exceptions

from delivery.providers.base import Outcome, OutgoingMessage, SendResult, parse_retry_after
from delivery.providers.http_session import session_environment_freeze

logger = logging.getLogger(__name__)

# send_each runs one thread per message; FCM allows up to 500 per call.
FCM_BATCH_SIZE = 100
SEND_PATH = "/v1/projects/{0}/messages:send"

# FCM's own error codes first, then Google's canonical codes firebase-admin reports otherwise.
# https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
FCM_ERROR_OUTCOMES: dict[str, Outcome] = {
    "UNREGISTERED": Outcome.PERMANENT,  # the app was uninstalled or the token expired
    "INVALID_ARGUMENT": Outcome.PERMANENT,  # a malformed token or message
    "SENDER_ID_MISMATCH": Outcome.PERMANENT,  # the token belongs to another Firebase project
    "THIRD_PARTY_AUTH_ERROR": Outcome.PERMANENT,  # APNs/web push credentials rejected
    "QUOTA_EXCEEDED": Outcome.RETRYABLE,
    "UNAVAILABLE": Outcome.RETRYABLE,
    "INTERNAL": Outcome.RETRYABLE,
    "NOT_FOUND": Outcome.PERMANENT,
    "PERMISSION_DENIED": Outcome.PERMANENT,
    "UNAUTHENTICATED": Outcome.PERMANENT,
    "FAILED_PRECONDITION": Outcome.PERMANENT,
    "RESOURCE_EXHAUSTED": Outcome.RETRYABLE,
    "DEADLINE_EXCEEDED": Outcome.RETRYABLE,
    "ABORTED": Outcome.RETRYABLE,
    "UNKNOWN": Outcome.RETRYABLE,
}
# Wrong credentials or project: no retry helps and the devices are not at fault.
MISCONFIGURATION_CODES = frozenset(
    {"SENDER_ID_MISMATCH", "THIRD_PARTY_AUTH_ERROR", "NOT_FOUND", "PERMISSION_DENIED", "UNAUTHENTICATED"}
)
TOKEN_FIELDS = frozenset({"message.token", "message.fid"})

_FCM_CODES_BY_ERROR = (
    (messaging.UnregisteredError, "UNREGISTERED"),
    (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
    (messaging.QuotaExceededError, "QUOTA_EXCEEDED"),
    (messaging.ThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"),
)


@dataclass(frozen=True)
class FcmSettings:
    credentials_path: str  # a service-account JSON; its project is the one we send for
    timeout_seconds: float
    endpoint_url: str = ""  # a local server in development and tests; empty for FCM itself


def token_is_dead(code: str, message: str, violated_fields: Sequence[str] = ()) -> bool:
    """Whether an error says the token itself is unusable, so its device should go."""
    if code == "UNREGISTERED":
        return True
    if code == "INVALID_ARGUMENT":
        return bool(TOKEN_FIELDS.intersection(violated_fields)) or "registration token" in message.lower()
    return False


def translate_fcm_error(
    token: str, code: str, message: str, violated_fields: Sequence[str] = (), retry_after: str | None = None
) -> SendResult:
    """One device's failure, by FCM error code."""
    outcome = FCM_ERROR_OUTCOMES.get(code, Outcome.PERMANENT)
    if code in MISCONFIGURATION_CODES:
        message = f"misconfiguration: {message}"
    dead = (token,) if token_is_dead(code, message, violated_fields) else ()
    if outcome == Outcome.RETRYABLE:
        return SendResult(
            Outcome.RETRYABLE,
            error_code=code,
            error_message=message[:2000],
            retry_after_seconds=parse_retry_after(retry_after),
            invalid_addresses=dead,
        )
    return SendResult(
        Outcome.PERMANENT,
        error_code=code,
        error_message=message[:2000],
        invalid_addresses=dead,
        provider_fault=code in MISCONFIGURATION_CODES,
    )


def combine_device_results(results: Sequence[SendResult]) -> SendResult:
    """One result for a push from its devices' results (see the module docstring)."""
    if not results:
        return SendResult.permanent("no_devices", "the recipient has no active push device")
    dead = tuple(address for result in results for address in result.invalid_addresses)
    delivered = [result for result in results if result.outcome == Outcome.DELIVERED]
    failed = [result for result in results if result.outcome != Outcome.DELIVERED]
    failures = ", ".join(f"{code} ×{count}" for code, count in Counter(r.error_code for r in failed).items())
    if delivered:
        note = f"delivered to {len(delivered)} of {len(results)} devices; {failures}" if failed else ""
        return SendResult(
            Outcome.DELIVERED,
            provider_message_id=delivered[0].provider_message_id,
            error_message=note,
            invalid_addresses=dead,
        )
    retryable = [result for result in failed if result.outcome == Outcome.RETRYABLE]
    first = (retryable or failed)[0]
    summary = f"{len(failed)} devices failed: {failures}; {first.error_message}" if len(failed) > 1 else ""
    waits = [result.retry_after_seconds for result in retryable if result.retry_after_seconds is not None]
    return SendResult(
        first.outcome,
        error_code=first.error_code,
        error_message=(summary or first.error_message)[:2000],
        retry_after_seconds=max(waits) if waits else None,
        invalid_addresses=dead,
        provider_fault=not retryable and all(result.provider_fault for result in failed),
    )


def _error_code(error: firebase_exceptions.FirebaseError) -> str:
    for error_class, code in _FCM_CODES_BY_ERROR:
        if isinstance(error, error_class):
            return code
    return str(error.code)


def _violated_fields(error: firebase_exceptions.FirebaseError) -> list[str]:
    response = error.http_response
    if response is None:
        return []
    try:
        details = response.json().get("error", {}).get("details", [])
    except (ValueError, AttributeError):
        return []
    return [
        violation.get("field", "")
        for detail in details
        if isinstance(detail, dict)
        for violation in detail.get("fieldViolations", [])
        if isinstance(violation, dict)
    ]


def translate_device_error(token: str, error: firebase_exceptions.FirebaseError) -> SendResult:
    retry_after = error.http_response.headers.get("Retry-After") if error.http_response is not None else None
    return translate_fcm_error(token, _error_code(error), str(error), _violated_fields(error), retry_after)


def translate_batch_error(error: firebase_exceptions.FirebaseError) -> SendResult:
    """A failure of the whole batch: firebase-admin wraps what escaped its requests, such as
    a failed OAuth token refresh, in an UnknownError."""
    cause = error.cause
    if isinstance(cause, google_auth_exceptions.RefreshError) and not cause.retryable:
        return SendResult.misconfigured("credentials", f"OAuth token refused: {cause}")
    if isinstance(cause, google_auth_exceptions.TransportError | google_auth_exceptions.RefreshError):
        return SendResult.retryable("credentials_unavailable", f"OAuth token endpoint: {cause}")
    return translate_fcm_error("", _error_code(error), str(error))


def _messaging_service(app: firebase_admin.App, endpoint_url: str) -> Any:
    service_class = messaging._MessagingService
    default_url = service_class.FCM_URL
    if endpoint_url:
        service_class.FCM_URL = endpoint_url.rstrip("/") + SEND_PATH
    try:
        service = messaging._get_messaging_service(app)
    finally:
        service_class.FCM_URL = default_url
    session = service._client.session
    for prefix in list(session.adapters):
        session.mount(prefix, requests.adapters.HTTPAdapter(max_retries=0, pool_maxsize=FCM_BATCH_SIZE))
    session_environment_freeze(session, service._fcm_url)
    return service


def _device_message(token: str, message: OutgoingMessage) -> messaging.Message:
    data = dict(message.data)
    if message.action_url:
        data["action_url"] = message.action_url
    notification = messaging.Notification(title=message.title or None, body=message.body or None)
    # Devices register FCM registration tokens, which go in `token`; 7.7.0 deprecates it in
    # favour of `fid`, which names a different identifier (a Firebase installation ID).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Message\.token is deprecated", category=DeprecationWarning)
        return messaging.Message(token=token, notification=notification, data=data)


class FcmPushProvider:
    name = "fcm"

    def __init__(self, config: FcmSettings) -> None:
        credential = credentials.Certificate(config.credentials_path)
        # Apps are process-wide and named; a name of our own keeps this one apart from any other.
        self._app = firebase_admin.initialize_app(
            credential,
            {"projectId": credential.project_id, "httpTimeout": config.timeout_seconds},
            name=f"clarion-fcm-{uuid.uuid4().hex}",
        )
        _messaging_service(self._app, config.endpoint_url)

    def send(self, message: OutgoingMessage) -> SendResult:
        addresses = message.tokens or tuple(token.strip() for token in message.to.split(","))
        tokens = list(dict.fromkeys(token for token in addresses if token))
        results: list[SendResult] = []
        for start in range(0, len(tokens), FCM_BATCH_SIZE):
            batch = tokens[start : start + FCM_BATCH_SIZE]
            try:
                response = messaging.send_each([_device_message(token, message) for token in batch], app=self._app)
            except firebase_exceptions.FirebaseError as error:
                # Earlier batches may have reached devices: the batch counts as its devices failing.
                results.extend([translate_batch_error(error)] * len(batch))
                continue
            for token, device in zip(batch, response.responses, strict=True):
                if device.success:
                    results.append(SendResult.delivered(provider_message_id=device.message_id))
                else:
                    results.append(translate_device_error(token, device.exception))
        result = combine_device_results(results)
        if result.error_code in MISCONFIGURATION_CODES or result.error_code == "credentials":
            logger.error("FCM rejects Clarion's configuration: %s %s", result.error_code, result.error_message)
        return result

    def close(self) -> None:
        firebase_admin.delete_app(self._app)
