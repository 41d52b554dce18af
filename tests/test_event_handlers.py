"""The hub's table of what each gate event kind changes (hub/event_handlers.py): every
kind is either handled once or said to be only stored, and the core does not reach into
its features."""
import ast
from pathlib import Path

from gatehouse.event_payloads import PAYLOADS
from gatehouse.events import EventKind
from hub import event_handlers

HUB = Path(__file__).resolve().parents[1] / "hub"


def test_every_event_kind_is_handled_or_only_stored_never_both():
    handled = set(event_handlers.HANDLERS)
    assert handled.isdisjoint(event_handlers.STORED_ONLY)
    assert handled | event_handlers.STORED_ONLY == set(EventKind) == set(PAYLOADS)


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
    for core in ("ingest.py", "effects.py", "compound.py", "sync.py"):
        features = {m for m in _imports(HUB / core)
                    if m.startswith(("hub.parcels", "hub.web", "hub.notify"))}
        assert features == set(), f"hub/{core} imports {features}"
