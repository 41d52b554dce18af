"""No import circles among the project's modules (docs/architecture.md, "Hub processes").

The graph is read from the source with `ast`, imports inside functions included, so a
circle cannot hide behind a function-level import."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gatehouse", "hub", "kiosk", "district")


def module_names() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    names = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        # `import a.b.c` runs a, a.b and a.b.c: each package's __init__ is an edge.
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            # A module's own packages are already being imported when it runs: no edge.
            if candidate in known and candidate != name and not name.startswith(candidate + "."):
                found.add(candidate)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            add(module)
            for alias in node.names:   # `from hub import meta` imports hub.meta
                add(f"{module}.{alias.name}")
    return found


def function_level_imports(path: Path, known: dict[str, Path]) -> list[str]:
    """Imports of project modules made inside a function (line: module)."""
    found = []
    for fn in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            found += [f"{node.lineno}: {n}" for n in names
                      if n.split(".")[0] in PACKAGES]
    return found


def import_graph() -> dict[str, set[str]]:
    known = module_names()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "hub.alert_log" in graph and "hub.alert_kinds" in graph["hub.alert_log"]


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_the_hub_imports_project_modules_at_the_top():
    """A function-level import of the project's own modules only ever dodged a circle:
    the hub has none (a heavy optional library, like openpyxl, may still wait)."""
    known = module_names()
    inside = {name: function_level_imports(path, known) for name, path in known.items()
              if name.split(".")[0] == "hub"}
    assert {name: lines for name, lines in inside.items() if lines} == {}


def test_the_district_and_the_compound_share_only_gatehouse():
    """The district runs on other machines than any hub or gate: it imports neither, and
    neither imports it (docs/architecture.md, "District")."""
    graph = import_graph()
    crossing = {(a, b) for a, targets in graph.items() for b in targets
                if {a.split(".")[0], b.split(".")[0]} in ({"district", "hub"},
                                                          {"district", "kiosk"})}
    assert crossing == set()


# The hub's features, and the modules that put the hub together from its core and them.
HUB_FEATURES = ("hub.parcels", "hub.web", "hub.district_")
HUB_ASSEMBLY = {"hub.app_serve", "hub.app_web",      # the composition roots
                "hub.features", "hub.schema"}  # who registers handlers, the migration sets


def test_the_hubs_core_never_imports_a_feature():
    """Ingest, sync, the effects, the compound's state …: no hub module outside a feature
    imports one, except the composition roots, the CLI and the two lists
    (docs/architecture.md, "Hub processes"). A feature that needs the MQTT client is wired
    to hub/sync.py's routes in hub/app_serve.py."""
    graph = import_graph()
    core = {m for m in graph if m.startswith("hub.") and not m.startswith(HUB_FEATURES)
            and not m.startswith("hub.cli") and m not in HUB_ASSEMBLY}
    assert {"hub.sync", "hub.ingest", "hub.effects", "hub.compound"} <= core
    reaching = {m: sorted(t for t in graph[m] if t.startswith(HUB_FEATURES)) for m in core}
    assert {m: ts for m, ts in reaching.items() if ts} == {}


def test_the_gate_and_the_hub_share_only_gatehouse():
    """A gate and its hub are different machines speaking MQTT: kiosk never imports hub,
    nor hub kiosk (docs/architecture.md, "The packages")."""
    graph = import_graph()
    crossing = {(a, b) for a, targets in graph.items() for b in targets
                if {a.split(".")[0], b.split(".")[0]} == {"hub", "kiosk"}}
    assert crossing == set()
