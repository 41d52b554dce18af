#!/usr/bin/env python3
"""Write the systemd units for one machine: fill in the @NAME@ placeholders of
deploy/systemd/*. Standard library only (the install scripts run it before the
virtual environment exists).

    render_units.py --out /etc/systemd/system --set APP=/opt/gatehouse [UNIT...]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULTS = {
    "APP": "/opt/gatehouse",                 # the project's folder
    "VENV": "/opt/gatehouse/.venv",
    "HOME": "/var/lib/gatehouse",            # GATEHOUSE_HOME
    "USER": "gatehouse",
    "WEB_BIND": "0.0.0.0",
    "WEB_PORT": "8080",
    "SCREEN_PORT": "8000",
    "BACKUP_KEEP": "14",
    "BACKUP_DIRS": "",                      # extra folders `hub backup --to` may write
    "PIN_FACTORY": "lgpio",
    "RELAY_PIN": "17",
    "RELAY_LOCKED_LEVEL": "high",            # active-low relay board: high = relay off
    "RELAY_LOCKED_FW": "dh",
    "RELAY_CHIP": "0",                       # gpiochipN of the relay line (Pi 5: 4)
    "CAGE": "/usr/bin/cage",
    "CHROMIUM": "/usr/bin/chromium",
}
HUB_UNITS = ["gatehouse-broker.service", "gatehouse-hub.service", "gatehouse-web.service",
             "gatehouse-backup.service", "gatehouse-backup.timer"]
GATE_UNITS = ["gatehouse-door-lock.service", "gatehouse-kiosk.service",
              "gatehouse-screen.service"]


def render(text: str, values: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            raise KeyError(f"no value for @{m.group(1)}@")
        return values[m.group(1)]
    out = re.sub(r"@([A-Z_]+)@", sub, text)
    return re.sub(r"[ \t]+$", "", out, flags=re.MULTILINE)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--role", choices=["hub", "gate", "all"], default=None)
    p.add_argument("units", nargs="*")
    args = p.parse_args(argv)
    values = dict(DEFAULTS)
    for item in args.set:
        name, _, value = item.partition("=")
        values[name] = value
    if "VENV" not in {s.partition("=")[0] for s in args.set}:
        values["VENV"] = values["APP"] + "/.venv"
    values["RELAY_LOCKED_FW"] = "dh" if values["RELAY_LOCKED_LEVEL"] == "high" else "dl"
    units = args.units or {"hub": HUB_UNITS, "gate": GATE_UNITS,
                           "all": HUB_UNITS + GATE_UNITS, None: HUB_UNITS + GATE_UNITS}[
        args.role]
    args.out.mkdir(parents=True, exist_ok=True)
    for name in units:
        text = render((HERE / "systemd" / name).read_text(), values)
        (args.out / name).write_text(text)
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
