"""Charts as inline SVG, drawn on the server: no chart library, no script, nothing fetched.

Every chart has a title and a description for screen readers (``role="img"``),
and the page shows the same numbers as a table next to it. Positions are
computed with integer arithmetic from the integer amounts (money never becomes a
float, not even to draw it). Colours come from the stylesheet (classes), so the
page's Content-Security-Policy needs no inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from pledge.entrypoints.console.fmt import group

W, H = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def _frame(chart_id: str, title: str, description: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _nice_max(value: int) -> int:
    """A round top for the y axis (1, 2 or 5 times a power of ten), at least ``value``."""
    if value <= 0:
        return 1
    power = 1
    while power * 10 <= value:
        power *= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def near_miss_bars(
    chart_id: str,
    title: str,
    description: str,
    before: Sequence[tuple[int, int]],
    after: Sequence[tuple[int, int]],
    label_before: str,
    label_after: str,
) -> str:
    """Bars per day outside the window: days before it on the left, days after on the right."""
    bars = [(-d, n) for d, n in sorted(before, reverse=True)] + [(d, n) for d, n in sorted(after)]
    top = _nice_max(max((n for _, n in bars), default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w // max(1, len(bars) + 1)  # one empty slot in the middle: the window itself
    body = [
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{group(top)}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    x = LEFT
    for index, (day, count) in enumerate(bars):
        if index == len(before):
            mid = x + slot // 2
            body.append(f'<line class="window" x1="{mid}" y1="{TOP}" x2="{mid}" y2="{TOP + plot_h}"/>')
            x += slot
        height = count * plot_h // top
        side = "before" if day < 0 else "after"
        label = f"{abs(day)} {label_before if day < 0 else label_after}: {group(count)}"
        body.append(
            f'<rect class="bar {side}" x="{x + 2}" y="{TOP + plot_h - height}" width="{max(1, slot - 4)}" '
            f'height="{height}"><title>{escape(label)}</title></rect>'
        )
        if len(bars) <= 30 or abs(day) % 5 == 0 or abs(day) == 1:
            body.append(
                f'<text class="tick" x="{x + slot // 2}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                f"{'−' if day < 0 else '+'}{abs(day)}</text>"
            )
        x += slot
    return _frame(chart_id, title, description, body)


def timeline_lines(
    chart_id: str,
    title: str,
    description: str,
    days: Sequence[tuple[date, dict[str, int]]],
    series: Sequence[str],
    budget_minor: int | None,
    format_axis: str,
) -> str:
    """Cumulative series per local date, and the budget as a dashed line."""
    top = _nice_max(max([budget_minor or 0] + [v[s] for _, v in days for s in series]))
    left = 120  # room for an amount on the y axis
    plot_w, plot_h = W - left - RIGHT, H - TOP - BOTTOM
    first = days[0][0].toordinal() if days else 0
    span = max(1, (days[-1][0].toordinal() - first) if days else 1)

    def px(day: date) -> int:
        return left + (day.toordinal() - first) * plot_w // span

    def py(value: int) -> int:
        return TOP + plot_h - value * plot_h // top

    body = [
        f'<line class="axis" x1="{left}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{TOP}" x2="{left}" y2="{TOP + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="{TOP + 4}" text-anchor="end">{escape(format_axis)}</text>',
        f'<text class="tick" x="{left - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    if budget_minor:
        y = py(budget_minor)
        body.append(f'<line class="line budget" x1="{left}" y1="{y}" x2="{W - RIGHT}" y2="{y}"/>')
    for name in series:
        points: list[str] = []
        previous = 0
        for day, values in days:  # steps: a cumulative total holds until the next day with a change
            x = px(day)
            if points:
                points.append(f"{x},{py(previous)}")
            points.append(f"{x},{py(values[name])}")
            previous = values[name]
        if len(points) == 1:
            points.append(f"{W - RIGHT},{py(previous)}")
        if points:
            body.append(f'<polyline class="line {name}" points="{" ".join(points)}"/>')
    if days:
        body.append(
            f'<text class="tick" x="{left}" y="{H - 8}">{days[0][0].isoformat()}</text>'
            f'<text class="tick" x="{W - RIGHT}" y="{H - 8}" text-anchor="end">'
            f"{days[-1][0].isoformat()}</text>"
        )
    return _frame(chart_id, title, description, body)


def funnel_bars(chart_id: str, title: str, description: str, steps: Sequence[tuple[str, str, int]]) -> str:
    """One horizontal bar per step (class, label, count), each as long as its count against the first."""
    top = max([1] + [n for _, _, n in steps])
    left, row = 160, (H - TOP - 8) // max(1, len(steps))
    plot_w = W - left - RIGHT - 72  # room after the bar for its number
    body = [f'<line class="axis" x1="{left}" y1="{TOP}" x2="{left}" y2="{TOP + row * len(steps)}"/>']
    for index, (kind, label, count) in enumerate(steps):
        y = TOP + index * row
        width, mid, height = count * plot_w // top, y + row // 2 + 4, max(1, row - 8)
        body.append(
            f'<text class="tick" x="{left - 8}" y="{mid}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar {escape(kind)}" x="{left}" y="{y + 4}" width="{width}" height="{height}">'
            f"<title>{escape(label)}: {group(count)}</title></rect>"
            f'<text class="tick" x="{left + width + 6}" y="{mid}">{group(count)}</text>'
        )
    return _frame(chart_id, title, description, body)
