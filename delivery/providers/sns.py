"""SMS through AWS SNS (publish to a phone number) with boto3.

As for SES, botocore's own retries are off and Celery owns retries. boto3 reads
AWS_ENDPOINT_URL_SNS itself, which is how tests point it at moto. Messages are marked
Transactional: SNS then routes them for reliability rather than cost.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

from delivery.providers.aws import aws_client
from delivery.providers.base import Outcome, OutgoingMessage, SendResult

# Publish's errors (botocore's SNS model) and the AWS-wide ones a request can meet.
SNS_ERROR_OUTCOMES: dict[str, Outcome] = {
    "InvalidParameter": Outcome.PERMANENT,  # e.g. a number not in E.164 form
    "ParameterValueInvalid": Outcome.PERMANENT,
    "ValidationException": Outcome.PERMANENT,
    "NotFound": Outcome.PERMANENT,
    "EndpointDisabled": Outcome.PERMANENT,
    "PlatformApplicationDisabled": Outcome.PERMANENT,
    "AuthorizationError": Outcome.PERMANENT,
    "InvalidSecurity": Outcome.PERMANENT,
    "InvalidClientTokenId": Outcome.PERMANENT,
    "SignatureDoesNotMatch": Outcome.PERMANENT,
    "AccessDenied": Outcome.PERMANENT,
    "KMSDisabled": Outcome.PERMANENT,
    "KMSInvalidState": Outcome.PERMANENT,
    "KMSNotFound": Outcome.PERMANENT,
    "KMSOptInRequired": Outcome.PERMANENT,
    "KMSAccessDenied": Outcome.PERMANENT,
    "KMSThrottling": Outcome.RETRYABLE,
    "Throttled": Outcome.RETRYABLE,  # the account's SMS rate is exceeded
    "Throttling": Outcome.RETRYABLE,
    "ThrottlingException": Outcome.RETRYABLE,
    "RequestLimitExceeded": Outcome.RETRYABLE,
    "InternalError": Outcome.RETRYABLE,
    "InternalFailure": Outcome.RETRYABLE,
    "ServiceUnavailable": Outcome.RETRYABLE,
}


def translate_sns_error(code: str, message: str, status: int) -> SendResult:
    """Translate an SNS error (its code, message and HTTP status) by the table, else by status."""
    outcome = SNS_ERROR_OUTCOMES.get(code)
    if outcome is None:
        outcome = Outcome.RETRYABLE if status == 429 or status >= 500 else Outcome.PERMANENT
    if outcome == Outcome.RETRYABLE:
        return SendResult.retryable(code, message)
    return SendResult.permanent(code, message)


def translate_client_error(error: ClientError) -> SendResult:
    details = error.response.get("Error", {})
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(details.get("Code") or status or "Unknown")
    return translate_sns_error(code, str(details.get("Message") or error), status)


class SnsSmsProvider:
    name = "sns"

    def __init__(self, region: str, timeout_seconds: float) -> None:
        self._client = aws_client("sns", region, timeout_seconds)

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            response = self._client.publish(
                PhoneNumber=message.to,
                Message=message.body,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                },
            )
        except ClientError as error:
            return translate_client_error(error)
        except NoCredentialsError as error:
            return SendResult.misconfigured("NoCredentials", str(error))
        except ReadTimeoutError as error:
            return SendResult.retryable("timeout", str(error))
        except (ConnectionError, HTTPClientError) as error:
            return SendResult.retryable("connection_error", str(error))
        except BotoCoreError as error:
            return SendResult.permanent(type(error).__name__, str(error))
        return SendResult.delivered(provider_message_id=response.get("MessageId", ""))
