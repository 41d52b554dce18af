"""No module of the project over ~400 lines, the benches and the demo included (issue 13):
past that, a module holds more than one thing a reader looks for. Tests are left out (a
test file grows with its cases, each read on its own)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gatehouse", "hub", "kiosk", "district", "bench", "demo")
LIMIT = 400


def test_no_module_is_over_400_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    assert len(sizes) > 100
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}
