"""Today's chart as a small SVG drawn on the server: no chart library, no CDN."""
from __future__ import annotations

from xml.sax.saxutils import escape

SERIES = [("entries", "进 entries", "#2e7d32"), ("exits", "出 exits", "#1565c0"),
          ("refusals", "拒绝 refusals", "#c62828"), ("referrals", "转人工 referrals", "#f9a825")]
W, H, LEFT, BOTTOM, TOP = 760, 260, 40, 30, 30


def hourly(per_hour: list[dict]) -> str:
    """Grouped bars per hour of the day for the four series."""
    peak = max([max(h[k] for k, *_ in SERIES) for h in per_hour] + [1])
    slot = (W - LEFT - 10) / 24
    bar = slot / (len(SERIES) + 1)
    scale = (H - BOTTOM - TOP) / peak
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
              f'width="{W}" height="{H}" role="img" aria-label="今日每小时通行 passages per hour">'),
             f'<rect width="{W}" height="{H}" fill="#fff"/>']
    for frac in (0, 0.5, 1):
        y = H - BOTTOM - frac * peak * scale
        parts.append(f'<line x1="{LEFT}" x2="{W - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end" fill="#555">{round(frac * peak)}</text>')
    for hour, h in enumerate(per_hour):
        x0 = LEFT + hour * slot
        for i, (key, _label, colour) in enumerate(SERIES):
            v = h[key]
            if v:
                parts.append(f'<rect x="{x0 + (i + 0.5) * bar:.1f}" '
                             f'y="{H - BOTTOM - v * scale:.1f}" width="{bar:.1f}" '
                             f'height="{v * scale:.1f}" fill="{colour}"><title>{hour}:00 '
                             f'{escape(_label)} {v}</title></rect>')
        if hour % 2 == 0:
            parts.append(f'<text x="{x0 + slot / 2:.1f}" y="{H - 10}" font-size="11" '
                         f'text-anchor="middle" fill="#555">{hour}</text>')
    for i, (_key, label, colour) in enumerate(SERIES):
        x = LEFT + i * 150
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="18" font-size="12">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
