"""The overview's charts as small SVGs drawn on the server: no chart library, no CDN.

Today per hour, and the last 7 or 30 days per day: grouped bars of the four series."""
from __future__ import annotations

from xml.sax.saxutils import escape

SERIES = [("entries", "进 entries", "#2e7d32"), ("exits", "出 exits", "#1565c0"),
          ("refusals", "拒绝 refusals", "#c62828"), ("referrals", "转人工 referrals", "#f9a825")]
W, H, LEFT, BOTTOM, TOP = 760, 260, 40, 30, 30


def hourly(per_hour: list[dict]) -> str:
    """Grouped bars per hour of the day for the four series."""
    return _bars([(str(h), f"{h}:00", v) for h, v in enumerate(per_hour)], 2,
                 "今日每小时通行 passages per hour")


def daily(per_day: list[dict]) -> str:
    """Grouped bars per day (7 or 30 days, `day` a date) for the four series."""
    every = 1 if len(per_day) <= 10 else 5
    groups = [(f"{d['day'].month}/{d['day'].day}", d["day"].isoformat(), d) for d in per_day]
    return _bars(groups, every, f"近{len(per_day)}天每日通行 passages per day, "
                                f"last {len(per_day)} days", label_last=True)


def _bars(groups: list[tuple[str, str, dict]], label_every: int, title: str,
          label_last: bool = False) -> str:
    """(axis label, tooltip label, values) per group; every `label_every`-th labelled."""
    peak = max([max(g[k] for k, *_ in SERIES) for *_, g in groups] + [1])
    slot = (W - LEFT - 10) / max(len(groups), 1)
    bar = slot / (len(SERIES) + 1)
    scale = (H - BOTTOM - TOP) / peak
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
              f'width="{W}" height="{H}" role="img" aria-label="{escape(title)}">'),
             f'<rect width="{W}" height="{H}" fill="#fff"/>']
    for frac in (0, 0.5, 1):
        y = H - BOTTOM - frac * peak * scale
        parts.append(f'<line x1="{LEFT}" x2="{W - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end" fill="#555">{round(frac * peak)}</text>')
    for i, (axis, tip, g) in enumerate(groups):
        x0 = LEFT + i * slot
        for j, (key, label, colour) in enumerate(SERIES):
            v = g[key]
            if v:
                parts.append(f'<rect x="{x0 + (j + 0.5) * bar:.1f}" '
                             f'y="{H - BOTTOM - v * scale:.1f}" width="{bar:.1f}" '
                             f'height="{v * scale:.1f}" fill="{colour}"><title>{escape(tip)} '
                             f'{escape(label)} {v}</title></rect>')
        if i % label_every == 0 or (label_last and i == len(groups) - 1):
            parts.append(f'<text x="{x0 + slot / 2:.1f}" y="{H - 10}" font-size="11" '
                         f'text-anchor="middle" fill="#555">{escape(axis)}</text>')
    for i, (_key, label, colour) in enumerate(SERIES):
        x = LEFT + i * 150
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="18" font-size="12">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
