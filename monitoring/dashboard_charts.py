"""The dashboard's numbers drawn as SVG charts, one per panel."""

from __future__ import annotations

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from monitoring.dashboard_data import SLO_SECONDS, Dashboard
from monitoring.svg_charts import Series, bar_chart, line_chart
from notifications.channels import Channel

CHANNEL_COLORS = {
    Channel.EMAIL: "#1f77b4",
    Channel.SMS: "#ff7f0e",
    Channel.PUSH: "#2ca02c",
    Channel.IN_APP: "#9467bd",
}
STATE_COLORS = {"closed": "#2e7d32", "half_open": "#e0a800", "open": "#c62828"}
HEALTHY, UNHEALTHY, NEUTRAL, P95 = "#2e7d32", "#c62828", "#417690", "#9bb8c7"


def _safe(svg: str) -> SafeString:
    return mark_safe(svg)  # noqa: S308 - svg_charts escapes every label and value it draws


def volume_chart(data: Dashboard) -> SafeString:
    volume = data.volume
    labels = [bucket.strftime(data.window.tick_format) for bucket in volume.buckets]
    series = [
        Series(Channel(channel).label, counts, CHANNEL_COLORS[channel]) for channel, counts in volume.sends.items()
    ]
    title = f"Sends per channel ({data.window.label}, UTC)"
    # Drawn as wide as the page's full-width panel shows it, so its text is not scaled up.
    return _safe(line_chart(title, labels, series, whole=True, ident="chart-volume", width=1200, height=260))


def success_chart(data: Dashboard) -> SafeString:
    """Delivered share of each provider's attempts, red below the breakers' healthy rate."""
    threshold = settings.CLARION_BREAKER_THRESHOLD
    rows = data.success
    return _safe(
        bar_chart(
            "Success rate per provider (delivered share of attempts)",
            [f"{row.provider} ({row.attempts:,})" for row in rows],
            [
                Series(
                    "success",
                    [round(row.rate * 100, 1) for row in rows],
                    HEALTHY,
                    colors=[HEALTHY if row.rate >= threshold else UNHEALTHY for row in rows],
                )
            ],
            unit="%",
            max_value=100,
            ident="chart-success",
        )
    )


def latency_chart(data: Dashboard) -> SafeString:
    rows = [row for row in data.latency if row.sends]
    return _safe(
        bar_chart(
            "Accept-to-sent latency (seconds)",
            [row.channel if row.channel == "all" else Channel(row.channel).label for row in rows],
            [
                Series("p50", [row.p50 for row in rows], NEUTRAL),
                Series("p95", [row.p95 for row in rows], P95),
            ],
            unit=" s",
            ident="chart-latency",
        )
    )


def queue_chart(data: Dashboard) -> SafeString:
    depths = data.queue_depths
    return _safe(
        bar_chart(
            "Messages waiting per Celery queue",
            list(depths),
            [Series("waiting", list(depths.values()), NEUTRAL)],
            ident="chart-queues",
        )
    )


def backlog_chart(data: Dashboard) -> SafeString:
    backlog = data.backlog
    return _safe(
        bar_chart(
            "Scheduled backlog",
            ["quiet hours and pauses", "retries and waits", "digest items"],
            [Series("waiting", [backlog.deferred, backlog.retries, backlog.digest_items], NEUTRAL)],
            ident="chart-backlog",
        )
    )


def dead_letter_chart(data: Dashboard) -> SafeString:
    counts = data.dead_letters
    return _safe(
        bar_chart(
            "Dead letters (failed deliveries) per channel",
            [Channel(channel).label for channel in counts],
            [Series("failed", list(counts.values()), UNHEALTHY)],
            ident="chart-dead-letters",
        )
    )


def breaker_chart(data: Dashboard) -> SafeString:
    breakers = data.breakers
    return _safe(
        bar_chart(
            "Circuit breakers (share of traffic each provider takes)",
            [f"{b.provider}: {b.state.replace('_', '-')}" for b in breakers],
            [
                Series(
                    "weight",
                    [b.weight for b in breakers],
                    HEALTHY,
                    colors=[STATE_COLORS.get(b.state, NEUTRAL) for b in breakers],
                )
            ],
            unit="%",
            max_value=100,
            ident="chart-breakers",
        )
    )


def dashboard_charts(data: Dashboard) -> dict[str, SafeString]:
    return {
        "volume": volume_chart(data),
        "success": success_chart(data),
        "latency": latency_chart(data),
        "queues": queue_chart(data),
        "backlog": backlog_chart(data),
        "dead_letters": dead_letter_chart(data),
        "breakers": breaker_chart(data),
    }


def slo_share(data: Dashboard) -> str:
    """The headline objective: the share of recent sends handed over within SLO_SECONDS."""
    overall = data.latency[-1]
    if overall.within_slo is None:
        return "no sends yet"
    return f"{overall.within_slo:.1%} within {SLO_SECONDS} s"
