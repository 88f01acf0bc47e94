"""Rendering a category's per-channel template with a notification's data."""

from notifications.rendering.render import (
    SAMPLE_RECIPIENT,
    RenderedMessage,
    RenderError,
    build_context,
    render_message,
    render_part,
    template_problems,
    template_sample_data,
    template_validate,
)
from notifications.rendering.variables import VariableUse, unknown_variables

__all__ = [
    "SAMPLE_RECIPIENT",
    "RenderError",
    "RenderedMessage",
    "VariableUse",
    "build_context",
    "render_message",
    "render_part",
    "template_problems",
    "template_sample_data",
    "template_validate",
    "unknown_variables",
]
