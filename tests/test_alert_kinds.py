"""Alert kinds: one enumeration, every kind labelled, every raiser using it."""
from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from gatehouse.policy import Reason
from hub.alert_kinds import LABELS, AlertKind, label_of
from hub.alert_log import add_alert

HUB = Path(__file__).parent.parent / "hub"


def _raisers() -> list[tuple[str, int, ast.expr]]:
    """(file, line, kind argument) of every call that raises an alert in the hub."""
    found = []
    for path in sorted(HUB.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        aliases = {"add_alert"} | {a.asname for node in ast.walk(tree)
                                   if isinstance(node, ast.ImportFrom)
                                   for a in node.names if a.name == "add_alert" and a.asname}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) \
                else None
            if name in aliases:
                found.append((str(path.relative_to(HUB.parent)), node.lineno, node.args[3]))
    return found


def _names_an_alert_kind(arg: ast.expr) -> bool:
    """AlertKind.X, A.X, AlertKind(...) or AlertKind.of_attempt(...) / .conflict(...)."""
    root = arg.func if isinstance(arg, ast.Call) else arg
    while isinstance(root, ast.Attribute):
        root = root.value
    return isinstance(root, ast.Name) and root.id in ("AlertKind", "A")


def test_every_kind_has_a_chinese_and_an_english_label():
    assert set(LABELS) == set(AlertKind)
    for kind in AlertKind:
        zh, en = LABELS[kind]
        assert zh and en and not zh.isascii() and en.isascii(), kind
        assert label_of(kind.value) == f"{zh} {en}"


def test_every_alert_raised_in_the_hub_names_an_alert_kind():
    raisers = _raisers()
    assert len(raisers) >= 15                      # the scan finds them (ingest, parcels…)
    loose = [f"{path}:{line}" for path, line, arg in raisers if not _names_an_alert_kind(arg)]
    assert loose == [], "alert kinds as bare strings: " + ", ".join(loose)


def test_every_conflict_the_hub_records_has_its_alert_kind():
    tree = ast.parse((HUB / "effects.py").read_text())
    kinds = {node.args[2].value for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_conflict"}
    assert kinds == {"passback_across_gates", "quota_exceeded"}
    assert all(AlertKind.conflict(k).label for k in kinds)


@pytest.mark.parametrize("reason", [r for r in Reason if r.alerts], ids=lambda r: r.value)
def test_an_alerting_reason_is_its_own_labelled_kind(reason):
    kind = AlertKind.of_attempt(["HEALTH_YELLOW", reason.value])
    assert kind.value == reason.value and label_of(kind.value) != reason.value


def test_an_alerting_attempt_with_reasons_this_hub_does_not_know_still_alerts():
    assert AlertKind.of_attempt(["TELEPORTED"]) is AlertKind.ATTEMPT
    assert AlertKind.of_attempt([]) is AlertKind.ATTEMPT


def test_a_kind_outside_the_enumeration_is_refused(compound):
    with pytest.raises(ValueError):
        add_alert(compound.db, time.time(), "gate-1", "teleport", None, {})
    add_alert(compound.db, time.time(), "gate-1", AlertKind.DOOR_FORCED, "e1", {})
    assert compound.db["alerts"].count_where("kind = 'door_forced'") == 1


def test_a_stored_kind_since_retired_shows_as_it_is():
    assert label_of("retired_kind") == "retired_kind"


def test_the_admin_doc_has_a_row_for_every_kind_with_its_label():
    doc = (HUB.parent / "docs" / "admin.md").read_text()
    for kind in AlertKind:
        assert f"| `{kind.value}` | {kind.label} |" in doc, f"docs/admin.md: no row for {kind}"
