"""ASGI entry point: HTTP through Django's WSGI handler on threads (config/wsgi_threads.py),
websockets through Channels."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_wsgi_app = get_wsgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.wsgi_threads import ThreadedWsgiToAsgi  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ThreadedWsgiToAsgi(django_wsgi_app, threads=settings.CLARION_WEB_THREADS),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# What the process has loaded by now (Django, DRF, Channels, the URL conf: a few hundred
# thousand objects) lives as long as it does. Frozen, the collector's full passes skip it
# instead of walking all of it while requests wait (config/celery.py does the same).
gc.freeze()
