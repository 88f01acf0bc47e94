"""Each channel's provider chain, built once per process from settings (DESIGN.md §4)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from delivery.providers.base import Provider
from delivery.providers.inbox import InboxProvider
from delivery.providers.outbox import OutboxProvider
from notifications.channels import Channel


def _outbox() -> Provider:
    from delivery.outbox import outbox_message_store

    return OutboxProvider(sink=outbox_message_store)


# The modules of the providers that talk to a service, which their factories import when first
# called, and the libraries those bring along (boto3, twilio, firebase-admin, Django's mail).
SDK_PROVIDER_MODULES = {
    "ses": "delivery.providers.ses",
    "smtp": "delivery.providers.smtp",
    "twilio": "delivery.providers.twilio",
    "sns": "delivery.providers.sns",
    "fcm": "delivery.providers.fcm",
}


def _ses() -> Provider:
    from delivery.providers.ses import SesEmailProvider

    return SesEmailProvider(
        sender=settings.CLARION_EMAIL_FROM,
        region=settings.AWS_REGION,
        timeout_seconds=settings.CLARION_PROVIDER_TIMEOUT_SECONDS,
    )


def _smtp() -> Provider:
    from delivery.providers.smtp import SmtpEmailProvider, SmtpSettings

    return SmtpEmailProvider(
        SmtpSettings(
            host=settings.EMAIL_HOST or "127.0.0.1",
            port=settings.EMAIL_PORT,
            username=settings.EMAIL_HOST_USER,
            password=settings.EMAIL_HOST_PASSWORD,
            use_tls=settings.EMAIL_USE_TLS,
            sender=settings.CLARION_EMAIL_FROM,
            timeout_seconds=settings.CLARION_PROVIDER_TIMEOUT_SECONDS,
        )
    )


def _twilio() -> Provider:
    from delivery.providers.twilio import TwilioSettings, TwilioSmsProvider

    return TwilioSmsProvider(
        TwilioSettings(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            from_number=settings.TWILIO_FROM_NUMBER,
            timeout_seconds=settings.CLARION_PROVIDER_TIMEOUT_SECONDS,
            api_base_url=settings.TWILIO_API_BASE_URL,
        )
    )


def _sns() -> Provider:
    from delivery.providers.sns import SnsSmsProvider

    return SnsSmsProvider(region=settings.AWS_REGION, timeout_seconds=settings.CLARION_PROVIDER_TIMEOUT_SECONDS)


def _fcm() -> Provider:
    from delivery.providers.fcm import FcmPushProvider, FcmSettings

    return FcmPushProvider(
        FcmSettings(
            credentials_path=settings.FIREBASE_CREDENTIALS,
            timeout_seconds=settings.CLARION_PROVIDER_TIMEOUT_SECONDS,
            endpoint_url=settings.FCM_ENDPOINT_URL,
        )
    )


def _inbox() -> Provider:
    from notifications.inbox import inbox_items_store

    return InboxProvider(store=inbox_items_store)


PROVIDER_FACTORIES: dict[str, dict[str, Callable[[], Provider]]] = {
    Channel.EMAIL: {"ses": _ses, "smtp": _smtp, "outbox": _outbox},
    Channel.SMS: {"twilio": _twilio, "sns": _sns, "outbox": _outbox},
    Channel.PUSH: {"fcm": _fcm, "outbox": _outbox},
    Channel.IN_APP: {"inbox": _inbox},
}


def configured_names(channel: str) -> list[str]:
    return {
        Channel.EMAIL: settings.CLARION_EMAIL_PROVIDERS,
        Channel.SMS: settings.CLARION_SMS_PROVIDERS,
        Channel.PUSH: settings.CLARION_PUSH_PROVIDERS,
        Channel.IN_APP: ["inbox"],
    }[channel]


@cache
def provider_chain(channel: str) -> tuple[Provider, ...]:
    factories = PROVIDER_FACTORIES[channel]
    names = configured_names(channel)
    unknown = [name for name in names if name not in factories]
    if unknown or not names:
        raise ImproperlyConfigured(
            f"Unknown {channel} providers {unknown or names}; choose from {', '.join(factories)}."
        )
    return tuple(factories[name]() for name in names)


def provider_modules_import() -> None:
    """Import the configured providers' modules and their SDKs now. A prefork worker calls this
    before it forks (config/celery.py), so its processes share what it imported instead of
    each importing it at its first send: about 0.3 s of CPU per process, at the moment
    traffic arrives. The providers themselves are still built in each process."""
    for channel in PROVIDER_FACTORIES:
        for name in configured_names(channel):
            if name in SDK_PROVIDER_MODULES:
                importlib.import_module(SDK_PROVIDER_MODULES[name])
