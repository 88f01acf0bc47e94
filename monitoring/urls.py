"""Operator-facing endpoints: Prometheus metrics and the staff dashboard."""

from django.urls import path

from monitoring.dashboard import dashboard_page
from monitoring.metrics_view import metrics_view

urlpatterns: list = [
    path("metrics", metrics_view, name="metrics"),
    path("dashboard/", dashboard_page, name="monitoring-dashboard"),
]
