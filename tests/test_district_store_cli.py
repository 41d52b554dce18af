"""The `district` command: every command has help text and a line in docs/district.md;
init writes a home the rest can read."""
from __future__ import annotations

import re
import stat
from pathlib import Path

import click
from click.testing import CliRunner

from district.cli import main
from district.home import DistrictHome

DOC = (Path(__file__).parent.parent / "docs" / "district.md").read_text()
# The page's commands are documented in its own section (H-WEB's part of the doc).
PAGE = {"district web", "district user"}


def commands(group: click.Group, prefix: str):
    for name, cmd in group.commands.items():
        yield f"{prefix} {name}", cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, f"{prefix} {name}")


def test_every_command_has_help_and_is_documented():
    for name, cmd in commands(main, "district"):
        assert (cmd.help or "").strip(), f"{name} has no help text"
        if not any(name.startswith(p) for p in PAGE) and not isinstance(cmd, click.Group):
            parent, leaf = name.rsplit(" ", 1)   # `district order seal|control|reopen`
            assert name in DOC or re.search(rf"`{parent} [a-z|]*\b{leaf}\b", DOC), \
                f"{name} is not in docs/district.md"


def test_init_writes_a_home_with_private_secrets(tmp_path):
    result = CliRunner().invoke(main, ["init", "--home", str(tmp_path / "h"), "--id", "xjh",
                                       "--name", "徐家汇", "--mqtt-port", "11883"])
    assert result.exit_code == 0, result.output
    home = DistrictHome.at(tmp_path / "h")
    cfg = home.config()
    assert (cfg.id, cfg.name, cfg.mqtt_port, cfg.retention_days) == ("xjh", "徐家汇", 11883, 28)
    for secret in (home.key_path, home.secrets_path):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert home.public_b64() in result.output
    again = CliRunner().invoke(main, ["init", "--home", str(tmp_path / "h"), "--id", "xjh"])
    assert again.exit_code == 1 and "exists" in again.output
    bad = CliRunner().invoke(main, ["compound", "add", "a.b", "--home", str(tmp_path / "h")])
    assert bad.exit_code == 1 and "bad compound id" in bad.output
