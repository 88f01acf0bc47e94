"""A user's push devices: list them and remove one, never another user's."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from delivery.models import Device


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
