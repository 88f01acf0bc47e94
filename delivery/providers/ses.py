"""Email through AWS SES (API v2) with boto3.

botocore's own retries are switched off: Celery owns retries, with backoff the delivery log
can see. boto3 reads AWS_ENDPOINT_URL_SESV2 itself, which is how tests point it at moto.

A message with headers of its own (the one-click unsubscribe pair) goes as raw MIME built by
Django's mail classes, the same message the SMTP adapter sends. SESv2's Simple content takes
`Headers` too, but moto, the SES the tests run against, drops them, so only raw MIME lets a
test see the headers arrive. Messages without extra headers keep the Simple content.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError, NoCredentialsError
from django.core.mail import EmailMultiAlternatives

from delivery.providers.aws import aws_client
from delivery.providers.base import OutgoingMessage, SendResult

PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "AccountSendingPausedException",
        "BadRequestException",
        "NotFoundException",
        "InvalidParameterValue",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)
RETRYABLE_CODES = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "Throttling",
        "ThrottlingException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServiceError",
    }
)


# Permanent, but the account's or configuration's fault rather than the message's.
PROVIDER_FAULT_CODES = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "AccountSendingPausedException",
        "MailFromDomainNotVerifiedException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)


def translate_client_error(error: ClientError) -> SendResult:
    details = error.response.get("Error", {})
    code = str(details.get("Code") or "Unknown")
    message = str(details.get("Message") or error)
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in RETRYABLE_CODES or (code not in PERMANENT_CODES and status >= 500):
        return SendResult.retryable(code, message)
    if code in PROVIDER_FAULT_CODES:
        return SendResult.misconfigured(code, message)
    return SendResult.permanent(code, message)


class SesEmailProvider:
    name = "ses"

    def __init__(self, sender: str, region: str, timeout_seconds: float) -> None:
        self._sender = sender
        self._client = aws_client("sesv2", region, timeout_seconds)

    def _content(self, message: OutgoingMessage) -> dict:
        if message.email_headers:
            return {"Raw": {"Data": self._mime(message)}}
        body = {"Text": {"Data": message.body, "Charset": "UTF-8"}}
        if message.html_body:
            body["Html"] = {"Data": message.html_body, "Charset": "UTF-8"}
        return {"Simple": {"Subject": {"Data": message.subject, "Charset": "UTF-8"}, "Body": body}}

    def _mime(self, message: OutgoingMessage) -> bytes:
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=self._sender,
            to=[message.to],
            # SES sets its own Message-ID; ours only spares Django a DNS lookup to make one.
            headers={
                "Message-ID": f"<{message.reference}@clarion>",
                "X-Clarion-Delivery": message.reference,
                **message.email_headers,
            },
        )
        if message.html_body:
            email.attach_alternative(message.html_body, "text/html")
        return email.message().as_bytes()

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            response = self._client.send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [message.to]},
                Content=self._content(message),
                EmailTags=[{"Name": "clarion_delivery", "Value": message.reference}],
            )
        except ClientError as error:
            return translate_client_error(error)
        except NoCredentialsError as error:
            return SendResult.misconfigured("NoCredentials", str(error))
        except (ConnectionError, HTTPClientError) as error:
            return SendResult.retryable("ConnectionError", str(error))
        except BotoCoreError as error:
            return SendResult.permanent(type(error).__name__, str(error))
        return SendResult.delivered(provider_message_id=response.get("MessageId", ""))
