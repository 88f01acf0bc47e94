"""Server-drawn SVG charts: well-formed, escaped, accessible, and drawn to scale."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from monitoring.svg_charts import Series, axis_ticks, bar_chart, format_number, line_chart, nice_step

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed


@pytest.mark.parametrize(
    ("value", "step"), [(0, 1), (0.7, 1), (1, 1), (1.2, 2), (3, 5), (7, 10), (11, 20), (0.03, 0.05), (250, 500)]
)
def test_nice_step_rounds_up_to_one_two_or_five_times_a_power_of_ten(value, step):
    assert nice_step(value) == pytest.approx(step)


@pytest.mark.parametrize(
    ("largest", "ticks"),
    [
        (0, [0, 1]),
        (5, [0, 1, 2, 3, 4, 5]),
        (7, [0, 2, 4, 6, 8]),
        (37, [0, 10, 20, 30, 40]),
        (100, [0, 20, 40, 60, 80, 100]),
        (0.8, [0, 0.2, 0.4, 0.6, 0.8]),
    ],
)
def test_axis_ticks_start_at_zero_and_reach_the_largest_value_in_round_steps(largest, ticks):
    assert axis_ticks(largest) == pytest.approx(ticks)


def test_whole_ticks_for_counts_never_fall_between_whole_numbers():
    assert axis_ticks(2, whole=True) == [0, 1, 2]
    assert axis_ticks(0, whole=True) == [0, 1]
    assert axis_ticks(2) == pytest.approx([0, 0.5, 1, 1.5, 2])


@pytest.mark.parametrize(
    ("value", "text"), [(3, "3"), (3.0, "3"), (12345, "12,345"), (0.25, "0.25"), (1.5, "1.5"), (42.37, "42.4")]
)
def test_format_number_drops_needless_decimals(value, text):
    assert format_number(value) == text


def test_labels_and_names_are_escaped_and_the_chart_stays_well_formed():
    hostile = '<script>alert("x")</script> & co'
    svg = line_chart(hostile, [hostile, "b"], [Series(hostile, [1, 2], '"red')])
    bars = bar_chart(hostile, [hostile], [Series(hostile, [3], "#000")])

    for chart in (svg, bars):
        assert "<script>" not in chart
        assert "&lt;script&gt;" in chart
        parse(chart)
    assert 'stroke="&quot;red"' in svg


def test_a_chart_is_an_image_named_by_its_title_and_described_by_its_data():
    svg = line_chart("Sends per channel", ["10:00", "10:01"], [Series("Email", [2, 5], "#111")], ident="chart-volume")
    root = parse(svg)

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-volume-title chart-volume-desc"
    assert root.find(f"{SVG}title").text == "Sends per channel"
    assert root.find(f"{SVG}title").get("id") == "chart-volume-title"
    assert "Email: 7 in all" in root.find(f"{SVG}desc").text


def test_line_chart_draws_a_point_per_value_and_breaks_the_line_at_a_gap():
    svg = line_chart(
        "Volume", ["a", "b", "c", "d"], [Series("Email", [4, None, 2, 0], "#111"), Series("SMS", [1, 1, 1, 1], "#222")]
    )
    root = parse(svg)
    paths = {path.get("data-series"): path.get("d") for path in root.iter(f"{SVG}path")}
    points = [(c.get("data-series"), float(c.get("data-value"))) for c in root.iter(f"{SVG}circle")]

    assert points == [("Email", 4), ("Email", 2), ("Email", 0), ("SMS", 1), ("SMS", 1), ("SMS", 1), ("SMS", 1)]
    assert re.fullmatch(r"M\S+ \S+ M\S+ \S+ L\S+ \S+", paths["Email"])  # the gap starts a new stroke
    assert paths["SMS"].count("L") == 3


def test_a_line_chart_of_counts_labels_only_whole_ticks():
    root = parse(line_chart("Volume", ["a", "b"], [Series("Email", [0, 2], "#111")], whole=True))
    assert [text.text for text in root.iter(f"{SVG}text") if text.get("text-anchor") == "end"] == ["0", "1", "2"]


def test_line_chart_puts_the_largest_value_on_the_top_tick_and_zero_on_the_baseline():
    root = parse(line_chart("Volume", ["a", "b"], [Series("Email", [0, 4], "#111")]))
    zero, four = (float(c.get("cy")) for c in root.iter(f"{SVG}circle"))
    ticks = [text.text for text in root.iter(f"{SVG}text") if text.get("text-anchor") == "end"]

    assert ticks == ["0", "1", "2", "3", "4"]
    assert four < zero
    gridlines = sorted(float(line.get("y1")) for line in root.iter(f"{SVG}line"))
    assert four == pytest.approx(gridlines[0])
    assert zero == pytest.approx(gridlines[-1])


def test_bar_widths_are_proportional_and_a_missing_value_reads_n_a():
    svg = bar_chart("Queues", ["email", "sms", "push"], [Series("waiting", [10, 5, None], "#333")])
    root = parse(svg)
    bars = {rect.find(f"{SVG}title").text: float(rect.get("width")) for rect in root.iter(f"{SVG}rect")}

    assert set(bars) == {"email: 10", "sms: 5"}
    assert bars["email: 10"] == pytest.approx(2 * bars["sms: 5"])
    assert "n/a" in [text.text for text in root.iter(f"{SVG}text")]


def test_bars_take_their_own_colours_and_stop_at_the_given_maximum():
    svg = bar_chart(
        "Breakers",
        ["ses", "smtp"],
        [Series("weight", [100, 150], "#000", colors=["#0a0", "#a00"])],
        unit="%",
        max_value=100,
    )
    rects = list(parse(svg).iter(f"{SVG}rect"))

    assert [rect.get("fill") for rect in rects] == ["#0a0", "#a00"]
    assert rects[0].get("width") == rects[1].get("width")
    assert rects[0].find(f"{SVG}title").text == "ses: 100%"


def test_grouped_bars_draw_one_bar_per_series_and_a_legend():
    svg = bar_chart("Latency", ["Email", "all"], [Series("p50", [1, 2], "#111"), Series("p95", [3, 4], "#222")])
    root = parse(svg)
    titles = [rect.find(f"{SVG}title").text for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]

    assert titles == ["Email p50: 1", "Email p95: 3", "all p50: 2", "all p95: 4"]
    assert [rect.get("fill") for rect in root.iter(f"{SVG}rect") if rect.get("class") == "legend"] == ["#111", "#222"]


def test_a_bar_chart_without_rows_says_so():
    root = parse(bar_chart("Providers", [], [Series("success", [], "#111")]))

    assert list(root.iter(f"{SVG}rect")) == []
    assert "No data" in [text.text for text in root.iter(f"{SVG}text")]


def test_long_bar_labels_are_shortened_on_the_chart_but_whole_in_their_title():
    label = "a-provider-with-a-very-long-name"
    root = parse(bar_chart("Providers", [label], [Series("success", [1], "#111")]))
    text = next(t for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None)

    assert text.find(f"{SVG}title").text == label
    assert text.find(f"{SVG}title").tail.endswith("…")
    assert len(text.find(f"{SVG}title").tail) < len(label)
