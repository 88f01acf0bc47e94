"""The staff dashboard at /dashboard/: the pipeline's traffic and health as server-drawn
charts, refreshed in place every few seconds by a small script (a meta refresh without one)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monitoring.dashboard_charts import dashboard_charts, slo_share
from monitoring.dashboard_data import LATENCY_SAMPLE, SLO_SECONDS, WINDOWS, dashboard_data, window_for

FRAGMENT_HEADER = "X-Dashboard-Fragment"  # the script swaps in only a response that carries it


@never_cache
@require_safe
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """Staff only: anyone signed out goes to the admin's sign-in page, anyone else is refused."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not request.user.is_staff:
        raise PermissionDenied
    data = dashboard_data(window_for(request.GET.get("window")))
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "data": data,
        "charts": dashboard_charts(data),
        "slo": slo_share(data),
        "slo_seconds": SLO_SECONDS,
        "latency_sample": LATENCY_SAMPLE,
        "dead_letters_total": sum(data.dead_letters.values()),
        "windows": WINDOWS.values(),
        "refresh_seconds": settings.CLARION_DASHBOARD_REFRESH_SECONDS,
    }
    if request.GET.get("fragment"):
        response = render(request, "monitoring/dashboard_charts.html", context)
        response[FRAGMENT_HEADER] = "1"
        return response
    return render(request, "monitoring/dashboard.html", context)
