"""The docs keep up with the code: every reason and every command is documented."""
from pathlib import Path

import click

from gatehouse.policy import Reason
from hub.cli import main as hub_cli
from kiosk.cli import main as kiosk_cli

DOCS = Path(__file__).parent.parent / "docs"
README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_reason_is_in_the_policy_doc():
    text = (DOCS / "policy.md").read_text()
    assert [r.value for r in Reason if f"`{r.value}`" not in text] == []


def _commands(group: click.Group, prefix: str):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", cmd


def test_every_command_has_help_text():
    for name, cmd in [*_commands(hub_cli, "hub"), *_commands(kiosk_cli, "kiosk")]:
        assert cmd.help, f"{name} has no help text"


def test_readme_opens_with_the_two_commands():
    head = README.split("## ")[0]
    assert "./scripts/demo" in head and "./scripts/test" in head
