from django.urls import path, register_converter

from notifications.api import NotificationDetailApi, NotificationListApi
from notifications.api_root import ApiRootApi
from notifications.inbox_api import (
    InboxCountsApi,
    InboxItemDetailApi,
    InboxItemListApi,
    InboxItemMarkApi,
    InboxMarkManyApi,
    UserInboxTokenApi,
)
from notifications.inbox_marks import InboxMark


class InboxMarkConverter:
    regex = "|".join(InboxMark)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(InboxMarkConverter, "inbox_mark")

urlpatterns = [
    path("", ApiRootApi.as_view(), name="api-root"),
    path("notifications", NotificationListApi.as_view(), name="notification-list"),
    path("notifications/<uuid:notification_id>", NotificationDetailApi.as_view(), name="notification-detail"),
    path("users/<int:user_id>/inbox-token", UserInboxTokenApi.as_view(), name="user-inbox-token"),
    path("inbox/items", InboxItemListApi.as_view(), name="inbox-items"),
    path("inbox/counts", InboxCountsApi.as_view(), name="inbox-counts"),
    path("inbox/items/<int:item_id>", InboxItemDetailApi.as_view(), name="inbox-item"),
    path("inbox/items/<int:item_id>/<inbox_mark:mark>", InboxItemMarkApi.as_view(), name="inbox-item-mark"),
    path("inbox/<inbox_mark:mark>", InboxMarkManyApi.as_view(), name="inbox-mark"),
]
