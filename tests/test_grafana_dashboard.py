"""deploy/grafana/gatehouse.json: a dashboard Grafana can import, whose every query names
a metric the hub's /metrics really serves (a renamed metric fails here, not on the
technician's wall screen)."""
import json
import re
from pathlib import Path

from hub import metrics
from hub.metrics import ServeHealth
from tests.conftest import T0

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "gatehouse.json"


def test_every_panel_queries_a_metric_the_hub_serves(compound):
    doc = json.loads(DASHBOARD.read_text())
    assert doc["title"] and doc["panels"] and doc.get("schemaVersion")
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    used = set(re.findall(r"gatehouse_\w+", " ".join(exprs)))
    served = metrics.render(metrics.collect(compound.db, T0, 60.0,
                                            ServeHealth(True, 0, 0.0, 0)))
    names = set(re.findall(r"^# TYPE (gatehouse_\w+)", served, re.M))
    assert used and used <= names, f"not served: {sorted(used - names)}"
