"""What the references share with each other: turning a notification into the rendered
message a provider adapter takes, with Clarion's own templates, rendering and addresses."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from delivery.routing import channel_address
from notifications.channels import Channel
from notifications.models import Notification, Template
from notifications.rendering import build_context, render_message


def message_content(template: Template, notification: Notification, user: AbstractBaseUser, tokens: list[str]) -> dict:
    recipient = {
        "name": user.get_full_name() or user.get_username(),
        "username": user.get_username(),
        "email": user.email,
    }
    rendered = render_message(template, build_context(notification.data, recipient))
    content = {**rendered.parts, "to": channel_address(user, template.channel, tokens)}
    if template.channel == Channel.PUSH:
        content["tokens"] = tokens
    return content
