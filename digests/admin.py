from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from digests.models import DigestItem, DigestTemplate


@admin.register(DigestTemplate)
class DigestTemplateAdmin(admin.ModelAdmin):
    list_display = ["category", "channel", "locale", "updated_at"]
    list_filter = ["channel", "locale", "category"]
    search_fields = ["category__slug", "subject", "title", "body"]
    list_select_related = ["category"]
    fields = ["category", "channel", "locale", "subject", "title", "body", "html_body"]


@admin.register(DigestItem)
class DigestItemAdmin(admin.ModelAdmin):
    """What is waiting for a digest, and which digest sent what. Written by the pipeline."""

    list_display = ["user", "category", "channel", "created_at", "due_at", "flushed_at"]
    list_filter = ["channel", "category", "flushed_at"]
    search_fields = ["user__username", "user__email", "category__slug"]
    list_select_related = ["user", "category"]
    readonly_fields = ["user", "category", "channel", "notification", "created_at", "due_at", "flushed_at", "digest"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
