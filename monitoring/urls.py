"""Operator-facing endpoints: Prometheus metrics and the staff dashboard."""

from django.urls import path

urlpatterns: list = []
