"""The channels Clarion delivers on; shared by every app."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push"
    IN_APP = "in_app", "In-app"


ALL_CHANNELS: tuple[str, ...] = tuple(Channel.values)
