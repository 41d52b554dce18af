"""Review s5: the district's own commands given a compound id that is not one (real
`district` CLI, real nats-server config check)."""
from __future__ import annotations

import subprocess

from click.testing import CliRunner

from district.cli import main

pytest_plugins = ["tests.district_fixtures"]


def test_a_compound_cannot_be_called_by_the_services_login(district_home):
    """D14: `district compound add district` gave the broker two users `district` (the
    service's and the compound's): nats-server refuses such a config, so the running
    broker ignored the reload and would not start again: the whole district down."""
    result = CliRunner().invoke(main, ["compound", "add", "--home", str(district_home.root),
                                       "district"])
    assert result.exit_code != 0
    assert "district" not in district_home.secrets()["compounds"]
    ok = CliRunner().invoke(main, ["compound", "add", "--home", str(district_home.root),
                                   "huayuan"])
    assert ok.exit_code == 0, ok.output
    conf = district_home.root / "check.conf"
    from district import app_run
    from district.nats_local import write_config
    write_config(app_run.node_config(district_home), conf)
    check = subprocess.run(["nats-server", "-c", str(conf), "-t"], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stderr
