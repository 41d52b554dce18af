"""The examples in the code's docstrings run: a module whose docstring shows `>>>` is
checked here, so an example that no longer holds fails the suite."""
import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for package in ("gatehouse", "hub", "kiosk", "district", "bench", "demo")
    for p in (ROOT / package).rglob("*.py")
    if ">>> " in p.read_text(encoding="utf-8"))


def test_the_modules_with_examples_are_found():
    assert "gatehouse.sdnotify" in MODULES and len(MODULES) >= 5


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_hold(name):
    module = importlib.import_module(name)
    found = sum(len(t.examples) for t in doctest.DocTestFinder().find(module))
    assert found > 0, f"{name} shows >>> but doctest finds no example there"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)   # (+SKIP ones not run)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} fail"
