"""The decode bench's tables (markdown) and the figures for its one-line summary."""

from __future__ import annotations

from collections import defaultdict

from bench.decode import measure, scenes
from bench.decode.measure import Held, Outcome

CONDITIONS = ("tilt30-45", "sideways", "glare", "moire", "low-light", "dark-mode",
              "ink-green", "ink-yellow", "ink-red")


def pct(hit: tuple[int, int]) -> str:
    """Return "62% (37/60)", or "-" for nothing counted."""
    n, total = hit
    return f"{100 * n / total:.0f}% ({n}/{total})" if total else "-"


def main_table(outcomes: list[Outcome], decoders: list[str]) -> str:
    """Per decoder, size and level: reads, false reads, time and its ratio to zxing-cpp's."""
    rows = measure.table(outcomes, lambda o: (o.decoder, o.size, o.difficulty))
    lines = [
        "| decoder | size | level | QR read | Code128 read | false reads | median ms "
        "| x zxing median / p95 / max | empty frame: median ms, x zxing |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(rows, key=lambda k: (decoders.index(k[0]), k[1], scenes.DIFFICULTIES.index(k[2]))):
        r = rows[key]
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {pct(r['qr'])} | {pct(r['code128'])} | {r['false']} "
            f"| {r['median']:.2f} | {r['ratio']:.2f} / {r['ratio_p95']:.2f} / {r['ratio_max']:.2f} "
            f"| {r['empty_median']:.2f}, {r['empty_ratio']:.2f}x |"
        )
    return "\n".join(lines)


def _tags(items) -> list[str]:
    present = {t for tags in items for t in tags}
    return [t for t in CONDITIONS if t in present]


def tag_table(outcomes: list[Outcome], decoders: list[str]) -> str:
    """Per decoder and condition: codes read of those shown with that condition."""
    tags = _tags(o.tags for o in outcomes if o.kind != "empty")
    lines = ["| decoder | " + " | ".join(tags) + " |", "|---" * (len(tags) + 1) + "|"]
    for name in decoders:
        cells = []
        for tag in tags:
            hit = [o for o in outcomes if o.decoder == name and tag in o.tags and o.kind != "empty"]
            cells.append(pct((sum(o.read for o in hit), len(hit))))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stage_table(pipeline: list[Outcome], zxing: list[Outcome]) -> str:
    """Mean ms of each pipeline stage per frame kind, and as a share of zxing-cpp's time."""
    ref = {o.case: o.ms for o in zxing}
    stages = ("change", "primary", "repair", "locate", "misses", "bars", "fit", "squares")
    lines = ["| frames | zxing-cpp ms | " + " | ".join(stages) + " | whole pipeline |",
             "|---" * (len(stages) + 3) + "|"]
    for kind in ("qr", "code128", "empty"):
        mine = [o for o in pipeline if o.kind == kind and o.case in ref]
        if not mine:
            continue
        z = sum(ref[o.case] for o in mine) / len(mine)
        cells = []
        for stage in stages:
            ms = sum(o.stages.get(stage, 0.0) for o in mine) / len(mine)
            share = sum(o.stages.get(stage, 0.0) / ref[o.case] for o in mine) / len(mine)
            cells.append(f"{ms:.2f} ({share:.2f}x)")
        whole = sum(o.ms for o in mine) / len(mine)
        share = sum(o.ratio for o in mine) / len(mine)
        lines.append(f"| {kind} ({len(mine)}) | {z:.2f} | " + " | ".join(cells) + f" | {whole:.2f} ({share:.2f}x) |")
    return "\n".join(lines) + "\n\n(means over the frames; a stage that did not run counts 0)"


def ablation_table(outcomes: list[Outcome], names: list[str]) -> str:
    """Per pipeline variant: medium and hard reads, false reads, time as a ratio to zxing-cpp."""
    rows = measure.table(outcomes, lambda o: (o.decoder, o.difficulty))
    lines = [
        "| variant | QR med | QR hard | C128 med | C128 hard | easy all | false | x zxing median / p95 | empty x zxing |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        by = {k[1]: r for k, r in rows.items() if k[0] == name}
        easy = by["easy"]
        easy_hit = (easy["qr"][0] + easy["code128"][0], easy["qr"][1] + easy["code128"][1])
        mine = [o for o in outcomes if o.decoder == name]
        ratios = [o.ratio for o in mine]
        empty = [o.ratio for o in mine if o.kind == "empty"]
        lines.append(
            f"| {name} | {pct(by['medium']['qr'])} | {pct(by['hard']['qr'])} | "
            f"{pct(by['medium']['code128'])} | {pct(by['hard']['code128'])} | {pct(easy_hit)} | "
            f"{sum(r['false'] for r in by.values())} | {measure.percentile(ratios, 50):.2f} / "
            f"{measure.percentile(ratios, 95):.2f} | {measure.percentile(empty, 50):.2f} |"
        )
    return "\n".join(lines)


def _within(held: list[Held], name: str, frames: int) -> tuple[int, int]:
    codes = [h for h in held if h.spec.kind != "empty"]
    return sum(h.first[name] is not None and h.first[name] < frames for h in codes), len(codes)


def held_table(held: list[Held], names: list[str], frames: int) -> str:
    """Per decoder: read on frame 1, by frame 2, by frame `frames`; frames to a first read."""
    lines = ["| decoder | frame 1 | by frame 2 | by frame 3 | QR by 3 | Code128 by 3 "
             "| mean frames to first read | false reads |", "|---|---|---|---|---|---|---|---|"]
    for name in names:
        cells = [pct(_within(held, name, k)) for k in range(1, frames + 1)]
        for kind in ("qr", "code128"):
            cells.append(pct(_within([h for h in held if h.spec.kind == kind], name, frames)))
        firsts = [h.first[name] + 1 for h in held if h.first[name] is not None]
        mean = f"{sum(firsts) / len(firsts):.2f}" if firsts else "-"
        false = sum(bool(h.false[name]) for h in held)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean} | {false} |")
    return "\n".join(lines)


def held_tag_table(held: list[Held], names: list[str], frames: int) -> str:
    """Per decoder and condition: codes read within `frames` frames."""
    codes = [h for h in held if h.spec.kind != "empty"]
    tags = _tags(h.spec.tags for h in codes)
    lines = ["| decoder | " + " | ".join(tags) + " |", "|---" * (len(tags) + 1) + "|"]
    for name in names:
        cells = [pct(_within([h for h in codes if tag in h.spec.tags], name, frames)) for tag in tags]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def held_target(held: list[Held], frames: int, target: float = 0.85) -> str:
    """The issue's held-in-view target, met or not, for the pipeline in this run."""
    hit = _within(held, "pipeline", frames)
    ok = hit[1] and hit[0] / hit[1] >= target
    return f"- {'met' if ok else 'NOT met'}: held in view {frames} frames >= {target:.0%} of medium+hard: {pct(hit)}"


def held_cost(held: list[Held], name: str = "pipeline", reference: str = "zxing") -> str:
    """The decoder's time on the later frames of held scenes (where it fuses frames), as a
    ratio to the reference's on the same frame: median, p95 and max, codes and empty apart."""
    parts = []
    for label, kinds in (("codes", ("qr", "code128")), ("empty and trap scenes", ("empty",))):
        ratios = [h.ms[name][i] / h.ms[reference][i] for h in held if h.spec.kind in kinds
                  for i in range(1, min(len(h.ms[name]), len(h.ms[reference])))]
        if ratios:
            parts.append(f"{label} {measure.percentile(ratios, 50):.2f} / {measure.percentile(ratios, 95):.2f} / "
                         f"{max(ratios):.2f} ({len(ratios)} frames)")
    return (f"{name} on frames 2-3 of a held scene, x {reference} on the same frame (median / p95 / max; "
            "one run a frame, so noisier than the single-frame times): " + "; ".join(parts))


def held_figures(held: list[Held], names: list[str], frames: int) -> dict[str, str]:
    """Summary-line figures: held-in-view reads by frame 1 and by the last frame."""
    return {f"held {name}": f"{pct(_within(held, name, 1))} -> {pct(_within(held, name, frames))}"
            for name in names}


def figures(outcomes: list[Outcome], decoders: list[str], size: str) -> dict[str, str]:
    """Per decoder at one size: reads per level, false reads, time and its ratio to zxing-cpp."""
    out = {}
    for name in decoders:
        mine = [o for o in outcomes if o.decoder == name and o.size == size]
        if not mine:
            continue
        by: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for o in mine:
            by[(o.kind, o.difficulty)].append(o.read)
        reads = ", ".join(
            f"{'QR' if kind == 'qr' else 'C128'} {level[0]} {sum(by[(kind, level)])}/{len(by[(kind, level)])}"
            for kind in ("qr", "code128") for level in scenes.DIFFICULTIES if by[(kind, level)])
        empty = [o.ratio for o in mine if o.kind == "empty"]
        out[name] = (f"{reads}, false {sum(bool(o.false_reads) for o in mine)}, "
                     f"median {measure.percentile([o.ms for o in mine], 50):.2f} ms "
                     f"({measure.percentile([o.ratio for o in mine], 50):.2f}x zxing), "
                     f"empty {measure.percentile(empty, 50):.2f}x zxing")
    return out


def targets(outcomes: list[Outcome], size: str) -> str:
    """The issue's single-frame targets, met or not, with the figures of this run."""
    mine = [o for o in outcomes if o.size == size]

    def rate(decoder: str, kind: str, level: str) -> tuple[int, int]:
        hit = [o for o in mine if o.decoder == decoder and o.kind == kind and o.difficulty == level]
        return sum(o.read for o in hit), len(hit)

    def frac(hit: tuple[int, int]) -> float:
        return hit[0] / hit[1] if hit[1] else 0.0

    ours, theirs = rate("pipeline", "qr", "hard"), rate("zxing", "qr", "hard")
    empties = [o.ratio for o in mine if o.decoder == "pipeline" and o.kind == "empty"]
    empty = measure.percentile(empties, 50)
    low, high = measure.median_interval(empties)
    false = sum(bool(o.false_reads) for o in mine if o.decoder == "pipeline")
    checks = [
        ("QR hard >= 1.5x zxing-cpp", frac(ours) >= 1.5 * frac(theirs), f"{pct(ours)} vs {pct(theirs)}"),
        ("QR medium >= 90%", frac(rate("pipeline", "qr", "medium")) >= 0.9, pct(rate("pipeline", "qr", "medium"))),
        ("Code128 medium >= 80%", frac(rate("pipeline", "code128", "medium")) >= 0.8,
         pct(rate("pipeline", "code128", "medium"))),
        ("Code128 hard >= 40%", frac(rate("pipeline", "code128", "hard")) >= 0.4,
         pct(rate("pipeline", "code128", "hard"))),
        ("empty frame <= zxing-cpp's time (median ratio)", empty <= 1.0,
         f"{empty:.2f}x over {len(empties)} frames (95% interval of the median {low:.2f}-{high:.2f}x; "
         f"frames p25-p75 {measure.percentile(empties, 25):.2f}-{measure.percentile(empties, 75):.2f}x)"),
        ("no false read (single frames)", false == 0, str(false)),
    ]
    return "\n".join(f"- {'met' if ok else 'NOT met'}: {name}: {figure}" for name, ok, figure in checks)
