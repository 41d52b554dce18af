"""The Prometheus text exposition format (0.0.4), written by the hub's /metrics and the
kiosk's: one home for both. Gauges and counters with labels; every name gets the
`gatehouse_` prefix."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

PREFIX = "gatehouse_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Family:
    name: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)
    type: str = "gauge"

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((labels, float(value)))
        return self


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(v: float) -> str:
    if not math.isfinite(v):          # never an OverflowError on a scrape
        return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def render(families: list[Family]) -> str:
    """The Prometheus text exposition format (version 0.0.4).

    >>> print(render([Family("gate_up", "1 when online").add(1, gate="gate-north")]), end="")
    # HELP gatehouse_gate_up 1 when online
    # TYPE gatehouse_gate_up gauge
    gatehouse_gate_up{gate="gate-north"} 1
    """
    out = []
    for f in families:
        name = PREFIX + f.name + ("_total" if f.type == "counter" else "")
        out.append(f"# HELP {name} {f.help}")
        out.append(f"# TYPE {name} {f.type}")
        for labels, value in f.samples:
            lab = ",".join(f'{k}="{_label(str(v))}"' for k, v in labels.items())
            out.append(f"{name}{{{lab}}} {_number(value)}" if lab else f"{name} {_number(value)}")
    return "\n".join(out) + "\n"
