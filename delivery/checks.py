"""`manage.py check` (run by `migrate`, so by `make run`) refuses provider chains naming unknown providers."""

from __future__ import annotations

from typing import Any

from django.core import checks

from delivery.chains import PROVIDER_FACTORIES, configured_names


@checks.register(checks.Tags.compatibility)
def provider_chains_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors = []
    for channel, factories in PROVIDER_FACTORIES.items():
        names = configured_names(channel)
        unknown = [name for name in names if name not in factories]
        if unknown or not names:
            errors.append(
                checks.Error(
                    f"The {channel} provider chain {names} names unknown providers {unknown}.",
                    hint=f"Choose from: {', '.join(factories)}.",
                    id="clarion.E001",
                )
            )
    return errors
