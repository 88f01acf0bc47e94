from django.urls import path

from notifications.consumers import InboxConsumer
from notifications.socket_auth import InboxSocketAuthMiddleware

websocket_urlpatterns = [
    path("ws/notifications/", InboxSocketAuthMiddleware(InboxConsumer.as_asgi())),
]
