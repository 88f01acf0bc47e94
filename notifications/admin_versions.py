"""Template versions as the admin keeps them: each saved text is recorded, any can be restored."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from notifications.models import Template, TemplateVersion


def template_content(template: Template) -> dict[str, str]:
    return {name: getattr(template, name) for name in TemplateVersion.CONTENT_FIELDS}


def template_version_record(
    template: Template,
    user: AbstractBaseUser | AnonymousUser | None,
    note: str = "",
    only_if_changed: bool = True,
) -> TemplateVersion | None:
    """Record the saved template's text as its next version; by default not when the latest
    version already says the same (a save that changed only the channel or locale)."""
    with transaction.atomic():
        # Locking the template numbers its versions one at a time when two staff save at once.
        Template.objects.select_for_update().filter(pk=template.pk).exists()
        latest = template.versions.order_by("-number").first()
        content = template_content(template)
        if only_if_changed and latest is not None and latest.content() == content:
            return None
        return TemplateVersion.objects.create(
            template=template,
            number=latest.number + 1 if latest else 1,
            note=note,
            created_by=user if user is not None and user.is_authenticated else None,
            **content,
        )


def template_version_restore(version: TemplateVersion, user: AbstractBaseUser | None) -> TemplateVersion:
    """Put an earlier version's text back, as a new version. Raises ValidationError when that
    text no longer passes validation (the category's sample data may have changed since)."""
    template = version.template
    for name, value in version.content().items():
        setattr(template, name, value)
    template.full_clean()
    with transaction.atomic():
        template.save(update_fields=[*TemplateVersion.CONTENT_FIELDS, "updated_at"])
        restored = template_version_record(
            template, user, note=f"restored version {version.number}", only_if_changed=False
        )
    return restored
