"""Push devices: register, list, remove; a user only ever touches their own."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from delivery.models import Device


def device_register(user: AbstractBaseUser, token: str, platform: str) -> tuple[Device, bool]:
    """Register (or re-register) a push token for `user`. A token is one app install: when
    it reappears under another user (sign-out, sign-in), it moves to the new user."""
    device, created = Device.objects.update_or_create(
        token=token, defaults={"user": user, "platform": platform, "active": True}
    )
    return device, created


def device_unregister(token: str, user: AbstractBaseUser | None = None) -> bool:
    """Remove a token; with `user`, only if it is theirs."""
    devices = Device.objects.filter(token=token)
    if user is not None:
        devices = devices.filter(user=user)
    deleted, _ = devices.delete()
    return bool(deleted)


def devices_for_user(user: AbstractBaseUser) -> list[Device]:
    return list(Device.objects.filter(user=user, active=True).order_by("-last_seen_at"))


def device_remove(user: AbstractBaseUser, device_id: int) -> bool:
    """Remove the device if it is this user's; False when there is no such device of theirs."""
    deleted, _ = Device.objects.filter(user=user, pk=device_id).delete()
    return bool(deleted)


def devices_deactivate(tokens: tuple[str, ...]) -> int:
    """The provider says these tokens are dead (uninstalled app, expired token): never send
    to them again."""
    return Device.objects.filter(token__in=tokens, active=True).update(active=False)
