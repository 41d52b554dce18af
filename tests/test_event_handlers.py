"""The hub's table of what each gate event kind changes (hub/event_handlers.py), filled
at start by every feature's `register` (hub/features.py): every kind is handled once or
said to be only kept, a kind nobody registered stops the hub at start, and the core
does not reach into its features."""
import ast
from pathlib import Path

import pytest

from gatehouse.event_payloads import PAYLOADS
from gatehouse.events import EventKind
from hub import effects, features
from hub.event_handlers import EventHandlers

HUB = Path(__file__).resolve().parents[1] / "hub"


def test_every_event_kind_is_handled_or_only_kept_never_both():
    handlers = features.event_handlers()
    assert handlers.handled.isdisjoint(handlers.kept)
    assert handlers.handled | handlers.kept == set(EventKind) == set(PAYLOADS)


def test_a_kind_nobody_registered_is_named_at_start_not_dropped_at_the_first_event():
    handlers = EventHandlers()
    effects.register(handlers)            # the core alone: the parcels feature left out
    with pytest.raises(ValueError, match="parcel, parcel_void, pickup"):
        handlers.check()


def test_a_kind_registered_twice_is_refused():
    handlers = EventHandlers()
    effects.register(handlers)
    with pytest.raises(ValueError, match="'attempt' registered twice"):
        handlers.handle(EventKind.ATTEMPT, lambda s: 0)
    with pytest.raises(ValueError, match="'stopped' registered twice"):
        handlers.keep(EventKind.STOPPED)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_ingest_and_the_core_handlers_import_no_feature():
    # (every core module: tests/test_import_graph.py)
    for core in ("ingest.py", "effects.py", "compound.py", "sync.py", "event_handlers.py"):
        features_ = {m for m in _imports(HUB / core)
                     if m.startswith(("hub.parcels", "hub.web", "hub.notify", "hub.features"))}
        assert features_ == set(), f"hub/{core} imports {features_}"
