"""The references' HTTP endpoints, served by bench/reference_settings.py's web server."""

from django.urls import path

from bench.reference_views import ceiling_accept, naive_accept

urlpatterns = [
    path("naive/notifications", naive_accept),
    path("ceiling/notifications", ceiling_accept),
]
