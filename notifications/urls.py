from django.urls import path

from notifications.api import NotificationDetailApi, NotificationListApi

urlpatterns = [
    path("notifications", NotificationListApi.as_view(), name="notification-list"),
    path("notifications/<uuid:notification_id>", NotificationDetailApi.as_view(), name="notification-detail"),
]
