"""The `district` command: every command has help text and a line in docs/district.md;
init writes a home the rest can read."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import stat
from pathlib import Path

import click
from click.testing import CliRunner

from district.cli import main
from district.db import connect
from district.home import DistrictHome
from gatehouse.district_wire import open_order
from gatehouse.policy import Policy

DOC = (Path(__file__).parent.parent / "docs" / "district.md").read_text()
# The page's commands are documented in its own section (H-WEB's part of the doc).
PAGE = {"district web", "district user"}

pytest_plugins = ["tests.district_fixtures"]


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


def test_broker_conf_writes_three_nodes_nats_server_accepts(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--home", str(tmp_path / "h"), "--id", "xjh"]
                         ).exit_code == 0
    added = runner.invoke(main, ["compound", "add", "huayuan", "--home", str(tmp_path / "h")])
    assert added.exit_code == 0 and "hub district link --compound-id huayuan" in added.output
    for node in (1, 2, 3):
        out = tmp_path / f"node-{node}.conf"
        result = runner.invoke(main, ["broker", "conf", "--home", str(tmp_path / "h"),
                                      "--node", str(node), "--peers",
                                      "10.0.0.1,10.0.0.2,10.0.0.3", "--out", str(out)])
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert f'server_name: "xjh-{node}"' in text and '"huayuan"' in text
        assert f"10.0.0.{node}:6222" not in text.split("routes")[1]   # not a route to itself
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        if shutil.which("nats-server"):
            checked = subprocess.run(["nats-server", "-t", "-c", str(out)],
                                     capture_output=True, text=True)
            assert checked.returncode == 0, checked.stderr + checked.stdout


def test_orders_gaps_and_retention_from_the_command_line(district_home, district_dsn,
                                                        tmp_path):
    cfg = district_home.config()
    cfg.dsn = district_dsn
    district_home.save(cfg)
    home = ["--home", str(district_home.root)]
    runner = CliRunner()
    policy = tmp_path / "winter.json"
    policy.write_text(Policy(visitors="refuse").model_dump_json())
    made = runner.invoke(main, ["order", "policy", str(policy), "c1", "c2", *home,
                                "--by", "街道办"])
    assert made.exit_code == 0, made.output
    assert [(o["compound"], o["seq"]) for o in json.loads(made.output)] == \
        [("c1", 1), ("c2", 1)]
    sealed = runner.invoke(main, ["order", "seal", "c1", "7", *home])
    assert json.loads(sealed.output)[0]["seq"] == 2
    with connect(district_dsn) as conn:
        signed = conn.execute("select signed from orders where compound = 'c1' and seq = 1"
                              ).fetchone()[0]
    order = open_order(signed, district_home.key().trusted("d1", frozenset()))
    assert (order.issued_by, order.policy["visitors"]) == ("街道办", "refuse")
    bad = runner.invoke(main, ["order", "seal", "c1", " ", *home])
    assert bad.exit_code == 1 and "error:" in bad.output
    assert json.loads(runner.invoke(main, ["gaps", *home]).output) == {"c1": [], "c2": []}
    dropped = runner.invoke(main, ["retention", *home, "--days", "3"])
    assert dropped.exit_code == 0 and "dropped 0 day(s)" in dropped.output
