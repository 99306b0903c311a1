"""Charts drawn on the server as inline SVG: nothing to fetch, nothing to run in the browser."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

# Distinct colours for series, readable on white.
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")


def _nice_max(value: int) -> int:
    """The axis top: the value rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def stacked_bars(
    series: Mapping[str, Sequence[tuple[datetime, int]]],
    *,
    width: int = 720,
    height: int = 180,
    title: str = "",
    empty: str = "no alerts in this time",
) -> Markup:
    """Counts per time slot, one colour per series stacked in each bar, with a legend; `empty`
    in their place when there are none (why there are none, where the counts could not be read).

    Every series must have the same slots in the same order (as alerts.per_minute gives them).
    """
    names = list(series)
    slots = [t for t, _ in next(iter(series.values()), [])]
    left, right, top, bottom = 36, 8, 8, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(series[n][i][1] for n in names) for i in range(len(slots))]
    top_value = _nice_max(max(totals, default=0))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#9ca3af"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" class="tick">{top_value}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    if slots:
        bar_w = plot_w / len(slots)
        for i, slot in enumerate(slots):
            y = float(top + plot_h)
            for n, name in enumerate(names):
                count = series[name][i][1]
                if not count:
                    continue
                h = plot_h * count / top_value
                y -= h
                parts.append(
                    f'<rect x="{left + i * bar_w + 0.5:.1f}" y="{y:.1f}" '
                    f'width="{max(bar_w - 1, 0.5):.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(name)} '
                    f"{slot:%H:%M}: {count}</title></rect>"
                )
        for i in (0, len(slots) // 2, len(slots) - 1):
            x = left + (i + 0.5) * bar_w
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'class="tick">{slots[i]:%H:%M}</text>'
            )
    x = float(left)
    for n, name in enumerate(names):
        colour = PALETTE[n % len(PALETTE)]
        parts.append(
            f'<rect x="{x:.0f}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14:.0f}" y="{height - 5}" class="legend">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    if not names:
        parts.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" '
            f'text-anchor="middle" class="legend">{escape(empty)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
