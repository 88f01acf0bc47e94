"""A local FCM HTTP v1 API with its own OAuth token endpoint.

`service_account_file()` writes a service-account JSON with a freshly generated RSA key whose
`token_uri` points here, so firebase-admin authenticates exactly as in production: it signs a
JWT, `POST /token` checks the signature and hands out an access token, and
`POST /v1/projects/{project}/messages:send` requires that token. Per-token errors answer in
FCM's wire format (a google.rpc error with an FcmError detail); `dead_token_errors` sets them.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.http_stub import HttpStub, StubHandler

PROJECT_ID = "clarion-test"
SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
# google-auth always signs for Google's token endpoint, whatever `token_uri` it posts to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
FCM_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/firebase.messaging",
        "https://www.googleapis.com/auth/cloud-platform",
    }
)
FCM_ERROR_DETAIL = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# FCM error code → (HTTP status, canonical status, message), as FCM answers them.
FCM_ERRORS: dict[str, tuple[int, str, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Messages per minute'"),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
}


@dataclass(frozen=True)
class SentPush:
    name: str
    project: str
    target: str  # the token (or fid) the message went to
    notification: dict[str, str]
    data: dict[str, str]


@dataclass
class FcmBehaviour:
    token_errors: dict[str, str] = field(default_factory=dict)  # token → FCM error code
    retry_after: str | None = None  # sent with QUOTA_EXCEEDED
    refuse_token_grants: bool = False  # the OAuth endpoint answers invalid_grant
    hold_seconds: float = 0.0  # response latency of sends: each waits this long before its answer


@cache
def _signing_key() -> rsa.RSAPrivateKey:
    """Generated once per test process: a fresh key that no real project knows."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class FcmHandler(StubHandler):
    def do_POST(self) -> None:
        stub: FcmStub = self.server.stub  # type: ignore[attr-defined]
        body = self.read_body()
        if self.path == "/token":
            self.grant_token(stub, body)
            return
        match = SEND_PATH.match(self.path)
        if match is None:
            self.google_error(404, "NOT_FOUND", f"{self.path} not found")
            return
        if self.headers.get("Authorization", "") not in {f"Bearer {token}" for token in stub.issued_tokens}:
            self.google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            return
        message = json.loads(body)["message"]
        target = message.get("token") or message.get("fid") or ""
        with stub.lock:
            stub.send_requests[target] += 1
            behaviour = stub.behaviour
        if behaviour.hold_seconds and not self.hold(behaviour.hold_seconds):
            return
        if match["project"] != stub.project_id:
            self.google_error(403, "PERMISSION_DENIED", "Permission denied on the project.")
            return
        code = behaviour.token_errors.get(target)
        if code is not None:
            self.fcm_error(code, behaviour.retry_after)
            return
        name = f"projects/{stub.project_id}/messages/0:{secrets.token_hex(8)}"
        sent = SentPush(name, match["project"], target, message.get("notification", {}), message.get("data", {}))
        with stub.lock:
            stub.sent.append(sent)
        self.send_json(200, {"name": name})

    def grant_token(self, stub: FcmStub, body: bytes) -> None:
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        if stub.behaviour.refuse_token_grants or not stub.assertion_is_valid(form.get("assertion", "")):
            self.send_json(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            return
        token = f"stub-access-{secrets.token_hex(8)}"
        with stub.lock:
            stub.issued_tokens.add(token)
        self.send_json(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def google_error(self, status: int, canonical: str, message: str, details: list[Any] | None = None) -> None:
        error = {"code": status, "message": message, "status": canonical, "details": details or []}
        self.send_json(status, {"error": error})

    def fcm_error(self, code: str, retry_after: str | None) -> None:
        status, canonical, message = FCM_ERRORS[code]
        details: list[Any] = [{"@type": FCM_ERROR_DETAIL, "errorCode": code}]
        if code == "INVALID_ARGUMENT":
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}],
                }
            )
        headers = {"Retry-After": retry_after} if retry_after and code == "QUOTA_EXCEEDED" else {}
        self.send_json(
            status, {"error": {"code": status, "message": message, "status": canonical, "details": details}}, headers
        )


class FcmStub(HttpStub):
    handler_class = FcmHandler

    def __init__(self, project_id: str = PROJECT_ID) -> None:
        super().__init__()
        self.project_id = project_id
        self.behaviour = FcmBehaviour()
        self.sent: list[SentPush] = []
        self.send_requests: Counter[str] = Counter()
        self.issued_tokens: set[str] = set()
        self._key = _signing_key()

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account_file(self, directory: Path) -> Path:
        """A service-account JSON for this stub: our key, our project, our token endpoint."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        email = f"clarion@{self.project_id}.iam.gserviceaccount.com"
        info = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": "100000000000000000001",
            "auth_uri": f"{self.url}/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": f"{self.url}/certs",
            "client_x509_cert_url": f"{self.url}/certs/{email}",
            "universe_domain": "googleapis.com",
        }
        path = directory / "firebase-service-account.json"
        path.write_text(json.dumps(info))
        return path

    def assertion_is_valid(self, assertion: str) -> bool:
        """An RS256 JWT signed by our key, for Google's token audience, asking for a scope that covers FCM."""
        try:
            header, claims, signature = assertion.split(".")
            self._key.public_key().verify(
                _b64decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            payload = json.loads(_b64decode(claims))
        except (ValueError, InvalidSignature):
            return False
        scopes = set(payload.get("scope", "").split())
        return payload.get("aud") == GOOGLE_TOKEN_AUDIENCE and bool(scopes & FCM_SCOPES)

    def fail_tokens(self, code: str, *tokens: str) -> None:
        with self.lock:
            self.behaviour.token_errors.update(dict.fromkeys(tokens, code))

    def pushes(self) -> list[SentPush]:
        with self.lock:
            return list(self.sent)

    def env(self, credentials_path: Path) -> dict[str, str]:
        """Settings that make a Clarion process push here."""
        return {
            "CLARION_PUSH_PROVIDERS": "fcm",
            "FIREBASE_CREDENTIALS": str(credentials_path),
            "FCM_ENDPOINT_URL": self.url,
        }
