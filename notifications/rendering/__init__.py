"""Rendering a category's per-channel template with a notification's data."""

from notifications.rendering.render import (
    RenderedMessage,
    RenderError,
    build_context,
    render_message,
    template_validate,
)

__all__ = ["RenderError", "RenderedMessage", "build_context", "render_message", "template_validate"]
