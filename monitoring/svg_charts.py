"""Line and bar charts as SVG strings, rendered on the server: the dashboard needs no chart
library and no script to draw, and a chart reads the same with scripts off.

Every label is escaped here, so callers may pass provider names, channel names or anything
else that came from settings or the database. Each chart carries a `<title>` and a `<desc>`
summarising its data for screen readers, and each data point a `<title>` for hovering.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = "font-family:system-ui,sans-serif;font-size:11px"
AXIS_COLOR = "#8a8a8a"
GRID_COLOR = "#e4e4e4"
TEXT_COLOR = "#333"
MAX_X_LABELS = 7
LABEL_CHARS = 22  # longer bar labels are shortened on the chart; their <title> keeps them whole


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no value (a gap in a line, "n/a" for a bar)
    color: str
    colors: Sequence[str] = ()  # per value, overriding `color` (bars only), e.g. by breaker state


def nice_step(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k that is at least `value`: a round step for an axis."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value * (1 - 1e-9))


def axis_ticks(largest: float, most: int = 5, whole: bool = False) -> list[float]:
    """Round tick values from 0 up to at least `largest`, at most `most` + 1 of them; `whole`
    keeps them whole numbers, for counts."""
    step = max(nice_step(largest / most), 1.0 if whole else 0.0)
    steps = max(1, math.ceil(largest / step - 1e-9))
    return [round(step * i, 10) for i in range(steps + 1)]


def format_number(value: float) -> str:
    """Whole numbers without decimals, others to one or two significant decimals."""
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:.2g}" if abs(value) < 0.1 else f"{value:.2f}".rstrip("0")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def _shorten(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _value_text(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{format_number(value)}{unit}"


def _open_svg(ident: str, title: str, summary: str, width: int, height: int) -> list[str]:
    ident = _slug(ident)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{ident}-title {ident}-desc" style="{FONT}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(summary)}</desc>',
    ]


def _rule(x1: float, x2: float, y1: float, y2: float, kind: str) -> str:
    """A gridline or an axis; the page's stylesheet may recolour either by its class."""
    color = GRID_COLOR if kind == "grid" else AXIS_COLOR
    return f'<line class="{kind}" x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="{color}"/>'


def _legend(series: Sequence[Series], y: float, left: float) -> list[str]:
    parts, x = [], left
    for line in series:
        color = escape(line.color)
        parts.append(f'<rect class="legend" x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14:.1f}" y="{y:.1f}" fill="{TEXT_COLOR}">{escape(line.name)}</text>')
        x += 24 + 7 * len(line.name)
    return parts


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    whole: bool = False,
    ident: str = "",
    width: int = 640,
    height: int = 220,
) -> str:
    """One line per series over the shared `x_labels`, each point a circle with its value;
    `whole` for counts, whose axis has no ticks between whole numbers."""
    left, right, top, bottom = 52, 28, 10, 46  # room for the first and last time labels, centred on their points
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for line in series for v in line.values if v is not None]
    ticks = axis_ticks(max(values, default=0), whole=whole)
    top_value = ticks[-1]
    count = len(x_labels)

    def x_at(index: int) -> float:
        return left + (plot_w / 2 if count == 1 else plot_w * index / (count - 1))

    def y_at(value: float) -> float:
        return top + plot_h * (1 - value / top_value)

    totals = "; ".join(f"{line.name}: {_value_text(sum(v or 0 for v in line.values), unit)} in all" for line in series)
    parts = _open_svg(ident or title, title, f"{title}, {count} points. {totals}.", width, height)
    for value in ticks:
        y = y_at(value)
        parts.append(_rule(left, width - right, y, y, "grid"))
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT_COLOR}">'
            f"{escape(_value_text(value, unit))}</text>"
        )
    every = max(1, math.ceil(count / MAX_X_LABELS))
    for index, label in enumerate(x_labels):
        if index % every == 0 or index == count - 1:
            parts.append(
                f'<text x="{x_at(index):.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="{TEXT_COLOR}">'
                f"{escape(label)}</text>"
            )
    parts.append(_rule(left, width - right, top + plot_h, top + plot_h, "axis"))
    for line in series:
        color, name = escape(line.color), escape(line.name)
        commands, pen_down = [], False
        for index, value in enumerate(line.values):
            if value is None:
                pen_down = False
                continue
            commands.append(f"{'L' if pen_down else 'M'}{x_at(index):.1f} {y_at(value):.1f}")
            pen_down = True
        if commands:
            parts.append(
                f'<path class="series" data-series="{name}" d="{" ".join(commands)}" fill="none" '
                f'stroke="{color}" stroke-width="2"/>'
            )
        for index, value in enumerate(line.values):
            if value is not None:
                label = escape(f"{line.name}, {x_labels[index]}: {_value_text(value, unit)}")
                parts.append(
                    f'<circle class="point" data-series="{name}" data-value="{value}" cx="{x_at(index):.1f}" '
                    f'cy="{y_at(value):.1f}" r="2.5" fill="{color}"><title>{label}</title></circle>'
                )
    parts += _legend(series, height - 8, left)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    max_value: float | None = None,
    ident: str = "",
    width: int = 640,
) -> str:
    """Horizontal bars, one group per label and one bar per series in each group."""
    label_w, value_w, bar_h, gap, top = 150, 64, 14, 10, 6
    group_h = bar_h * len(series) + gap
    legend_h = 22 if len(series) > 1 else 0
    height = top + group_h * max(len(labels), 1) + legend_h
    plot_w = width - label_w - value_w
    values = [v for bars in series for v in bars.values if v is not None]
    top_value = max_value or axis_ticks(max(values, default=0))[-1]

    summary = "; ".join(
        ", ".join(
            f"{label}{f' {bars.name}' if len(series) > 1 else ''}: {_value_text(bars.values[i], unit)}"
            for bars in series
        )
        for i, label in enumerate(labels)
    )
    parts = _open_svg(ident or title, title, f"{title}. {summary or 'No data'}.", width, height)
    if not labels:
        parts.append(f'<text x="{label_w}" y="{top + 12}" fill="{TEXT_COLOR}">No data</text>')
    for i, label in enumerate(labels):
        group_y = top + i * group_h
        parts.append(
            f'<text x="{label_w - 8}" y="{group_y + group_h / 2 - gap / 2 + 4:.1f}" text-anchor="end" '
            f'fill="{TEXT_COLOR}"><title>{escape(label)}</title>{escape(_shorten(label))}</text>'
        )
        for j, bars in enumerate(series):
            value = bars.values[i]
            y = group_y + j * bar_h
            text = _value_text(value, unit)
            bar_end = label_w
            if value is not None:
                bar_w = plot_w * min(max(value, 0) / top_value, 1)
                color = escape(bars.colors[i] if bars.colors else bars.color)
                name = f"{label}{f' {bars.name}' if len(series) > 1 else ''}: {text}"
                parts.append(
                    f'<rect class="bar" data-value="{value}" x="{label_w}" y="{y + 1}" width="{bar_w:.1f}" '
                    f'height="{bar_h - 2}" fill="{color}"><title>{escape(name)}</title></rect>'
                )
                bar_end += bar_w
            parts.append(f'<text x="{bar_end + 4:.1f}" y="{y + bar_h - 3}" fill="{TEXT_COLOR}">{escape(text)}</text>')
    parts.append(_rule(label_w, label_w, top, height - legend_h, "axis"))
    if legend_h:
        parts += _legend(series, height - 6, label_w)
    parts.append("</svg>")
    return "".join(parts)
