"""The inbox API's answers as OpenAPI describes them. The views build these bodies from
`inbox_item_payload` and `InboxCounts.as_json`; tests/test_api_schema.py checks that the two
agree on every answer it provokes."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import serializers

from notifications.inbox_feed import MAX_ID
from notifications.inbox_marks import InboxMark


class InboxCountsSerializer(serializers.Serializer):
    unseen = serializers.IntegerField(help_text="Items in the feed (not archived) never seen.")
    unread = serializers.IntegerField(help_text="Items in the feed not read.")
    total = serializers.IntegerField(help_text="Items in the feed.")


class InboxItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    notification_id = serializers.UUIDField()
    category = serializers.CharField(help_text="The category's slug.")
    title = serializers.CharField()
    body = serializers.CharField()
    action_url = serializers.CharField(help_text="Where the item leads; may be empty.")
    data = serializers.DictField(help_text="The notification's data (empty for security categories).")
    created_at = serializers.DateTimeField()
    seen = serializers.BooleanField()
    read = serializers.BooleanField()
    archived = serializers.BooleanField()
    seen_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    archived_at = serializers.DateTimeField(allow_null=True)


class InboxFeedPageSerializer(serializers.Serializer):
    items = InboxItemSerializer(many=True, help_text="Newest first.")
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` for the next page; null at the end."
    )
    counts = InboxCountsSerializer()


class InboxItemMarkedSerializer(serializers.Serializer):
    item = InboxItemSerializer()
    counts = InboxCountsSerializer()


class InboxItemsMarkedSerializer(serializers.Serializer):
    updated = serializers.IntegerField(help_text="Items whose state changed.")
    counts = InboxCountsSerializer()


class InboxTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


COUNTS_EXAMPLE = {"unseen": 1, "unread": 2, "total": 5}
ITEM_EXAMPLE = {
    "id": 1017,
    "notification_id": "5f0c6c1e-8a4b-4f7e-9d2a-3b1c2d4e5f60",
    "category": "comment_reply",
    "title": "Grace replied to your comment",
    "body": "Nice work!",
    "action_url": "https://example.com/posts/17#comment-981",
    "data": {"author": "Grace"},
    "created_at": "2026-01-01T12:00:00+00:00",
    "seen": True,
    "read": False,
    "archived": False,
    "seen_at": "2026-01-01T12:05:00+00:00",
    "read_at": None,
    "archived_at": None,
}
FEED_EXAMPLE = OpenApiExample(
    "a page",
    value={
        "items": [ITEM_EXAMPLE],
        "next_cursor": "MjAyNi0wMS0wMVQxMjowMDowMCswMDowMHwxMDE3",
        "counts": COUNTS_EXAMPLE,
    },
)
ITEM_ID = OpenApiParameter(
    "item_id",
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    OpenApiParameter.PATH,
    examples=[OpenApiExample("example", value=ITEM_EXAMPLE["id"])],
)
MARK = OpenApiParameter(
    "mark",
    str,
    OpenApiParameter.PATH,
    enum=[mark.value for mark in InboxMark],
    description="`read` also marks seen; `archived` takes items out of the feed and its counts.",
)
TOKEN_EXAMPLE = OpenApiExample(
    "token", value={"token": "eyJ1Ijo0Mn0:1tYx2a:Zk3q", "expires_at": "2026-01-01T13:00:00+00:00"}
)
