"""The demo: a compound on one machine. Mosquitto, the hub and two simulated gates
(file cameras playing a scripted morning, gpiozero mock pins), with a live feed of what
the hub sees; the parcel area's shelves, its pickup kiosk, and the admin page.
Ctrl-C stops everything cleanly.

Run it with ./scripts/demo (python -m demo); --seconds N stops it by itself.
"""
from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from demo.courier_desk import CourierDesk
from demo.parcels import FRESH_HOLD_MINUTES, HOLD_MINUTES
from demo.scenario import Scenario, build
from gatehouse.home import Home
from gatehouse.privacy import mask_household
from gatehouse.processes import Process
from gatehouse.timeutil import iso

BIN = Path(sys.executable).parent
COLOURS = {"admit": "\033[42;30m", "refer": "\033[43;30m", "refuse": "\033[41;97m"}
RESET = "\033[0m"


class Services:
    """The demo's processes, stopped in reverse order whatever happens. Ctrl-C is the
    demo's to hand on (own session); they die with it, even on kill -9."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.procs: list[Process] = []

    def start(self, name: str, args: list) -> None:
        self.procs.append(Process(args, self.logs / f"{name}.log", name=name,
                                  own_session=True, die_with_parent=True).start())

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=10)


def feed(db_path: Path, seen: set, zone: str) -> None:
    """Print what reached the hub since the last call: passages and alerts."""
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2)
    except sqlite3.OperationalError:
        return
    try:
        rows = db.execute("select event_id, gate, at, direction, outcome, name, reasons "
                          "from passages order by at").fetchall()
        for event_id, gate, at, direction, outcome, name, reasons in rows:
            if event_id in seen:
                continue
            seen.add(event_id)
            why = ", ".join(json.loads(reasons or "[]"))
            print(f"{iso(at, zone)[11:19]}  {gate:11s} {direction:3s} "
                  f"{COLOURS.get(outcome, '')} {outcome.upper():6s} {RESET} {name or '-':6s} "
                  f"{why}", flush=True)
        for aid, gate, kind in db.execute("select id, gate, kind from alerts").fetchall():
            if ("alert", aid) not in seen:
                seen.add(("alert", aid))
                print(f"          \033[1mALERT\033[0m {gate}: {kind}", flush=True)
        # Parcels a gate recorded (the courier's drop-off), and pickups at the shelves.
        for pid, gate, waybill, state, slot, household in db.execute(
                "select id, gate, waybill, state, slot, household from parcels where gate is "
                "not null order by received_at").fetchall():
            if ("parcel", pid) not in seen:
                seen.add(("parcel", pid))
                print(f"          \033[1mPARCEL\033[0m {gate}: {waybill} for "
                      f"{mask_household(household) or '?'} {state}{' ' + slot if slot else ''}",
                      flush=True)
        for eid, place, waybill, code in db.execute(
                "select e.id, e.place, p.waybill, p.code from parcel_events e join parcels p "
                "on p.id = e.parcel where e.state_to = 'picked_up'").fetchall():
            if ("pickup", eid) not in seen:  # (a wrong parcel is an alert, above)
                seen.add(("pickup", eid))
                print(f"          \033[1mPICKUP\033[0m {place}: {code} {waybill} taken",
                      flush=True)
    except sqlite3.OperationalError:
        pass  # the hub is still creating its tables
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", help="Folder for the demo compound (default: a new temporary one).")
    parser.add_argument("--seconds", type=float, default=None, help="Stop after this long.")
    args = parser.parse_args()
    root = Path(args.home or tempfile.mkdtemp(prefix="gatehouse-demo-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    scenario: Scenario = build(root)
    hub_home = Home.at(root / "hub-home")
    services = Services(root)
    stop = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    office = f"http://localhost:{scenario.web_port}"
    area = scenario.parcels
    print(f"Gatehouse demo in {root}\n"
          f"  broker   127.0.0.1:{scenario.port} (logs: {root}/*.log)\n"
          f"  hub      {hub_home.root}  (try: .venv/bin/hub gate list --home {hub_home.root})\n"
          f"  gates    north (entry) and south (exit), mock pins, file cameras; parcels-1 at "
          f"the parcel shelves\n"
          + "".join(f"  screen   {g.id}: http://127.0.0.1:{g.web_port}/\n"
                    for g in scenario.gates) +
          f"  office   {office}/  (admin / {scenario.admin_password})\n"
          f"  parcels  {office}/parcels/  (board; holds of {HOLD_MINUTES:g} min, fresh "
          f"{FRESH_HOLD_MINUTES:g}), {office}/groupbuy/, {office}/notifications/\n"
          f"           messages to residents go to {area.notifications}\n"
          f"  volunteer 王*姨 PIN {scenario.volunteer_pin} at the gate screens\n"
          f"  at {scenario.seal_after:.0f} s the office seals building 7; a courier drops "
          f"parcels at gate-north,\n"
          f"           its volunteer keying each parcel's room from the label\n"
          f"  the morning repeats (the cameras loop) until Ctrl-C\n"
          f"  try: key a ready pickup code from the board (e.g. {area.sample_code}, household "
          f"{area.sample_household}) on the parcels-1 screen;\n"
          f"       after the seal, make building 7's run sheet at {office}/parcels/runs\n"
          "Ctrl-C stops everything.\n", flush=True)
    try:
        services.start("mosquitto", ["mosquitto", "-c", scenario.broker_conf])
        time.sleep(0.5)
        services.start("hub", [BIN / "hub", "serve", "--home", hub_home.root])
        services.start("web", [BIN / "hub", "web", "--home", hub_home.root,
                               "--port", scenario.web_port])
        for gate in scenario.gates:  # the role (gate or parcels) is in each home's config
            services.start(gate.id, [BIN / "kiosk", "run", "--home", gate.home.root,
                                     "--camera", gate.camera, "--direction", gate.direction,
                                     "--gate-id", gate.id, "--pin-factory", "mock",
                                     "--web-port", gate.web_port])
        north = next(g for g in scenario.gates if g.id == "gate-north")
        desk = CourierDesk(north.web_port, scenario.volunteer_pin, scenario.courier_rooms)
        started, seen, sealed = time.monotonic(), set(), False
        while not stop["now"]:
            feed(hub_home.hub_db, seen, scenario.zone)
            desk.step()
            elapsed = time.monotonic() - started
            if not sealed and elapsed >= scenario.seal_after:
                sealed = True
                scenario.seal()
                print("          \033[1mOFFICE\033[0m building 7 sealed (hub building set 7 "
                      "sealed)", flush=True)
            if args.seconds is not None and elapsed >= args.seconds:
                break
            for proc in services.procs:
                if not proc.running():
                    print(f"{proc.name} stopped unexpectedly; see {proc.log_path}", flush=True)
                    stop["now"] = True
            time.sleep(0.3)
    finally:
        services.stop()  # first: whatever else fails, no process is left behind
    try:
        feed(hub_home.hub_db, seen, scenario.zone)
        print(f"\nstopped; the compound stays in {root}", flush=True)
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
