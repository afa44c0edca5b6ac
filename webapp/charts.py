"""Server-rendered SVG bar charts (no JavaScript): 本年医疗费用 by month.

Two shapes from the same data: vertical bars for the normal page, and for 长辈模式 one
horizontal bar per month with the month and the amount written beside it in large type (≥ 18 px),
dark on white (contrast well above 4.5:1). Colours are presentation attributes, not ``style``
(the CSP forbids inline styles). Text is escaped; the numbers are integer fen shown in yuan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from webapp.money import yuan

BAR = "#0a6b3d"        # dark green: 6.9:1 on white
BAR_EMPTY = "#c9d3cd"  # the baseline stub of a month without spending
TEXT = "#1a1a1a"       # 17:1 on white
MUTED = "#4a4a4a"      # 8.9:1 on white
WIDTH = 340


@dataclass(frozen=True)
class Bar:
    """One month: its short label ('3月') and amount in fen."""

    label: str
    value_fen: int


def _short(fen: int) -> str:
    """An amount for a bar's top: '23.5', '1.2千', '3.4万' (yuan, compact)."""
    value = fen / 100
    if value >= 10000:
        return f"{value / 10000:.1f}万"
    if value >= 1000:
        return f"{value / 1000:.1f}千"
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.1f}"


def _open(width: int, height: int, title: str, bars: Sequence[Bar], kind: str) -> list[str]:
    """The <svg> element, its <title> and a <desc> that lists every value (for screen readers)."""
    desc = "；".join(f"{b.label} {yuan(b.value_fen)}元" for b in bars)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart_{kind}" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" data-chart="{kind}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(desc)}</desc>",
    ]


def month_bars(bars: Sequence[Bar], title: str) -> Markup:
    """Vertical bars, one per month, the amount above each bar and the month below."""
    n = max(len(bars), 1)
    top, label_h, plot_h = 22, 22, 120
    height = top + plot_h + label_h
    slot = WIDTH / n
    bar_w = max(min(slot * 0.6, 36), 6)
    peak = max((b.value_fen for b in bars), default=0) or 1
    out = _open(WIDTH, height, title, bars, "bars")
    base = top + plot_h
    out.append(f'<line x1="0" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="{MUTED}" '
               f'stroke-width="1"/>')
    for i, b in enumerate(bars):
        cx = slot * i + slot / 2
        h = round(plot_h * b.value_fen / peak, 1) if b.value_fen else 2
        fill = BAR if b.value_fen else BAR_EMPTY
        out.append(f'<rect x="{cx - bar_w / 2:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" '
                   f'height="{h}" rx="2" fill="{fill}" data-fen="{b.value_fen}"/>')
        if b.value_fen:
            out.append(f'<text x="{cx:.1f}" y="{base - h - 5:.1f}" text-anchor="middle" '
                       f'font-size="12" fill="{TEXT}">{escape(_short(b.value_fen))}</text>')
        out.append(f'<text x="{cx:.1f}" y="{height - 5}" text-anchor="middle" font-size="12" '
                   f'fill="{MUTED}">{escape(b.label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def month_rows(bars: Sequence[Bar], title: str) -> Markup:
    """长辈模式: one horizontal bar per month, '3月' on the left and '¥23.50' on the right,
    both 20 px and near-black."""
    row_h, label_w, amount_w, font = 40, 56, 120, 20
    height = row_h * max(len(bars), 1)
    plot_w = WIDTH - label_w - amount_w
    peak = max((b.value_fen for b in bars), default=0) or 1
    out = _open(WIDTH, height, title, bars, "rows")
    for i, b in enumerate(bars):
        y = i * row_h
        mid = y + row_h / 2
        w = round(plot_w * b.value_fen / peak, 1) if b.value_fen else 3
        fill = BAR if b.value_fen else BAR_EMPTY
        out.append(f'<text x="0" y="{mid + font * 0.35:.1f}" font-size="{font}" '
                   f'fill="{TEXT}">{escape(b.label)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 8}" width="{w}" height="{row_h - 16}" rx="3" '
                   f'fill="{fill}" data-fen="{b.value_fen}"/>')
        out.append(f'<text x="{WIDTH}" y="{mid + font * 0.35:.1f}" text-anchor="end" '
                   f'font-size="{font}" font-weight="600" fill="{TEXT}">'
                   f'¥{escape(yuan(b.value_fen))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def month_chart(bars: Sequence[Bar], title: str, elder: bool = False) -> Markup:
    """The chart for the mode: rows in 长辈模式, vertical bars otherwise."""
    return month_rows(bars, title) if elder else month_bars(bars, title)
