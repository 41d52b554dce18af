"""Every command has a line in docs/commands.md, every event kind a row in docs/mqtt.md:
a command or kind added without its line fails here (issue 13)."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import click
import pytest

from gatehouse.events import EventKind

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROOTS = [("hub", "hub.cli"), ("kiosk", "kiosk.cli"), ("district", "district.cli")]


def commands(cmd: click.Command, path: list[str]):
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from commands(sub, [*path, name])
    else:
        yield " ".join(path)


def every_command() -> list[str]:
    found = []
    for name, module in ROOTS:
        try:
            main = importlib.import_module(module).main
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == name:   # not built (yet)
                continue
            raise
        found += list(commands(main, [name]))
    return found


def test_the_command_walk_finds_nested_commands():
    found = every_command()
    assert "hub gate add" in found and "kiosk run" in found and len(found) > 40


@pytest.mark.parametrize("command", every_command())
def test_every_command_has_a_line_in_the_commands_page(command):
    page = (DOCS / "commands.md").read_text()
    assert re.search(rf"^\| `{re.escape(command)}` \| \S", page, re.M), \
        f"`{command}` has no line in docs/commands.md: add one (what it does, which page)"


@pytest.mark.parametrize("kind", [k.value for k in EventKind])
def test_every_event_kind_has_a_row_in_the_mqtt_page(kind):
    page = (DOCS / "mqtt.md").read_text()
    assert re.search(rf"^\s*\| `{kind}` \|", page, re.M), \
        f"event kind `{kind}` has no row in docs/mqtt.md's table of kinds"
