from django.urls import path

from notifications.api import NotificationDetailApi, NotificationListApi
from notifications.api_root import ApiRootApi

urlpatterns = [
    path("", ApiRootApi.as_view(), name="api-root"),
    path("notifications", NotificationListApi.as_view(), name="notification-list"),
    path("notifications/<uuid:notification_id>", NotificationDetailApi.as_view(), name="notification-detail"),
]
