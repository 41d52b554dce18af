"""The installed gate inside the VM, seen the way the tests need it: the relay line read
from the kernel, the kiosk unit as systemd sees it, codes issued by the VM's own hub,
scenes for the file camera, the scanner gun, the gate's log and the hub's."""
from __future__ import annotations

import json
import shlex
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gatehouse.processes import wait_until
from tests.vm.machine import Machine, VMError
from tests.vm.provision import FRAMES, HOME, LOCKED, PROBE_LOG, RELAY, VENV

TOOLS = Path(__file__).parent / "tools"
UNIT = "gatehouse-kiosk.service"
SCENE_DROPIN = "/etc/systemd/system/gatehouse-kiosk.service.d/zz-vm-scene.conf"
KIOSK_DB = f"{HOME}/kiosk/kiosk.db"
HUB_DB = f"{HOME}/hub/hub.db"
SCANNER = "evdev:/dev/input/by-id/usb-Gatehouse_VM_Barcode_Scanner-event-kbd"
# The hub's Python as the hub's user: tools/issue.py makes codes with the hub's own code.
HUB_PYTHON = f"runuser -u gatehouse -- env GATEHOUSE_HOME={HOME} {VENV}/bin/python"


@dataclass
class KioskState:
    pid: int
    active: str
    sub: str
    restarts: int
    status: str
    started_us: int      # ExecMainStartTimestampMonotonic


class Gate:
    def __init__(self, vm: Machine, share: Path):
        self.vm, self.share = vm, share
        (share / "tools").mkdir(exist_ok=True)
        for tool in TOOLS.glob("*.py"):
            shutil.copy(tool, share / "tools" / tool.name)
        self._people = 0
        self._watchers: list[int] = []                      # pids of watch_in_background
        self._pool: list[tuple[str, str]] = []
        self._pool_lock = threading.Lock()
        self.staged: tuple[str, str, bool] | None = None   # what the kiosk's starts play
        self._before = 0                                    # the kiosk's pid before stop()

    # -- the relay line, from the kernel's side ---------------------------------------

    def level(self) -> int:
        return int(self.vm.sh(f"cat /run/gpio-sim/sim_gpio{RELAY}/value").strip())

    def line(self, *args: str, timeout: float = 120) -> dict:
        """Run tools/line.py in the VM (see its docstring)."""
        out = self.vm.sh("python3 /mnt/run/tools/line.py " + " ".join(map(shlex.quote, args)),
                         timeout=timeout)
        return json.loads(out)

    def watch_in_background(self, name: str, seconds: float) -> Path:
        """Start tools/line.py watching for `seconds`, each change of level appended at once
        to a file in the host's share ("<wall time> <level>" lines); returns that file."""
        log = self.share / f"{name}.log"
        log.unlink(missing_ok=True)
        pid = self.vm.sh(f"nohup python3 /mnt/run/tools/line.py watch {seconds:g} "
                         f"--log /mnt/run/{name}.log >/dev/null 2>&1 & echo $!").strip()
        self._watchers.append(int(pid))
        wait_until(log.exists, 60, every=0.2, message=f"the line watcher {name} to start")
        return log

    def unwatch(self) -> None:
        """Stop the background watchers: each polls every 5 ms, CPU that an emulated VM's
        next scene (a kill -9 whose lock must come within 1 s) should not lose to them."""
        if self._watchers:
            self.vm.run("kill " + " ".join(map(str, self._watchers)))
            self._watchers.clear()

    @staticmethod
    def changes(log: Path) -> list[tuple[float, int]]:
        """(wall time, level) lines written by watch_in_background; the first is the start."""
        if not log.exists():
            return []
        return [(float(t), int(v)) for t, v in
                (ln.split() for ln in log.read_text().splitlines() if ln.strip())]

    def probes(self) -> list[tuple[str, float, int]]:
        """(boot id, uptime, level) each time systemd started the kiosk (provision.PROBE)."""
        out = self.vm.run(f"cat {PROBE_LOG}").out
        return [(b, float(t), int(v)) for b, t, v in (ln.split() for ln in out.splitlines())]

    # -- the kiosk unit ---------------------------------------------------------------

    def kiosk(self) -> KioskState:
        props = "MainPID,ActiveState,SubState,NRestarts,StatusText,ExecMainStartTimestampMonotonic"
        out = self.vm.sh(f"systemctl show -p {props} {UNIT}")
        kv = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return KioskState(int(kv.get("MainPID") or 0), kv.get("ActiveState", ""),
                          kv.get("SubState", ""), int(kv.get("NRestarts") or 0),
                          kv.get("StatusText", ""),
                          int(kv.get("ExecMainStartTimestampMonotonic") or 0))

    def wait_kiosk(self, timeout: float = 180, not_pid: int = 0) -> tuple[float, KioskState]:
        """Wait until the kiosk is active (READY=1 under Type=notify) in a process other
        than `not_pid`; returns the seconds waited and its state."""
        t0 = time.monotonic()
        state = wait_until(self.kiosk, timeout, every=1, message="the kiosk back and ready",
                           until=lambda s: s.active == "active" and s.pid and s.pid != not_pid,
                           seen=lambda s: f"{s}\n{self.journal(40)}")
        return time.monotonic() - t0, state

    def journal(self, lines: int = 60, unit: str = UNIT) -> str:
        return self.vm.run(f"journalctl -u {unit} -b --no-pager -n {lines} -o short-monotonic").out

    def screen(self) -> tuple[int, str]:
        """The volunteer screen's page and state, from inside the VM (it listens on loopback)."""
        script = ("import urllib.request,sys\n"
                  "try:\n"
                  " page=urllib.request.urlopen('http://127.0.0.1:8000/',timeout=10).read().decode()\n"
                  " state=urllib.request.urlopen('http://127.0.0.1:8000/api/state',timeout=10).read().decode()\n"
                  " print(200); print(page); print(state)\n"
                  "except Exception as e: print(0); print(repr(e))\n")
        out = self.vm.sh(f"python3 -c {shlex.quote(script)}", timeout=60)
        status, _, rest = out.partition("\n")
        return int(status), rest

    # -- what the camera and the scanner gun see --------------------------------------

    def issue(self, n: int = 1) -> list[tuple[str, str]]:
        """n new residents' (pass, green health code) from the VM's hub: taken from those
        made ahead (prepare), else made now."""
        with self._pool_lock:
            if len(self._pool) < n:
                self._pool += self._make(n - len(self._pool))
            out, self._pool = self._pool[:n], self._pool[n:]
        return out

    def prepare(self, n: int) -> None:
        """Make n residents' codes ahead, in one process (tools/issue.py): the scenes then
        take them without waiting for the hub under emulation."""
        with self._pool_lock:
            self._pool += self._make(n)

    def _make(self, n: int) -> list[tuple[str, str]]:
        from tests.conftest import resident_ids
        people = []
        for pid in resident_ids(self._people + n)[self._people:]:
            self._people += 1
            people.append([pid, f"居民{self._people}", str(100 + self._people)])
        out = self.vm.sh(f"{HUB_PYTHON} /mnt/run/tools/issue.py codes "
                         f"{shlex.quote(json.dumps(people))}", timeout=600)
        return [(p, h) for p, h in json.loads(out)]

    def office_writing(self, seconds: float) -> None:
        """The office issuing passes back to back for `seconds` in the background (the
        hub's database being written, with the hub's own code), one line a pass in
        churn.log of the share."""
        self.vm.sh(f"nohup {HUB_PYTHON} /mnt/run/tools/issue.py churn {seconds:g} "
                   ">/mnt/run/churn.log 2>&1 &")

    def scene(self, name: str, texts: list[str], frames_each: int = 3, gap: int = 2,
              blank_after: int = 0) -> str:
        """Phone screens showing `texts` one after another (demo's renderer), written on the
        host into the shared folder; returns the scene's name for play()."""
        from demo.scenes import showing, write_frames
        folder = self.share / "frames" / name
        write_frames(folder, showing(*texts, frames_each=frames_each, gap=gap))
        empty = next((self.share / "frames" / "empty").glob("*.png"))
        start = len(list(folder.glob("*.png")))
        for i in range(blank_after):
            shutil.copy(empty, folder / f"zz{start + i:05d}.png")
        return name

    def stage(self, scene: str, fps: float = 4, loop: bool = True, scanner: bool = True,
              camera: str | None = None) -> None:
        """Put the scene in the camera's folder and the camera (and the scanner gun, plugged
        in unless scanner=False) in the kiosk's settings: its next start plays them (the
        file camera reads its folder when it opens)."""
        spec = camera or f"file:{FRAMES}?fps={fps:g}&loop={int(loop)}"
        env = [f"GATEHOUSE_KIOSK_CAMERA={spec}"]
        if scanner:
            env.append(f"GATEHOUSE_KIOSK_SCANNER={SCANNER}")
        dropin = "[Service]\n" + "".join(f'Environment="{e}"\n' for e in env)
        self.vm.put(SCENE_DROPIN, dropin)
        self.vm.sh(f"rm -f {FRAMES}/* && cp /mnt/run/frames/{scene}/* {FRAMES}/ && "
                   f"chown -R gatehouse: {FRAMES} && systemctl daemon-reload")
        self.staged = (scene, spec, scanner)

    def play(self, scene: str, fps: float = 4, loop: bool = True, scanner: bool = True,
             camera: str | None = None, wait: bool = True) -> float:
        """stage() the scene and restart the kiosk on it. Returns the seconds until it was
        ready."""
        self.stop()
        self.stage(scene, fps, loop, scanner, camera)
        return self.start(wait)

    def stop(self) -> None:
        """Stop the kiosk before its scene changes: a running file camera that loses its
        frames opens the folder again 3 s later (kiosk/scanner/reconnect.py) and would
        play the next scene before the test watches (and then decide it twice)."""
        self._before = self.kiosk().pid
        self.vm.sh(f"systemctl stop {UNIT}", timeout=180)

    def start(self, wait: bool = True) -> float:
        """Start the kiosk on what was staged; the seconds until it was ready."""
        self.vm.sh(f"systemctl start --no-block {UNIT}")
        if not wait:
            return 0.0
        return self.wait_kiosk(not_pid=self._before)[0]

    def wait_scanner(self, timeout: float = 120) -> None:
        """Wait until the kiosk's running process has opened the scanner gun (its log
        says so): keys typed before that are lost, as with a gun plugged in too late."""
        def opened() -> bool:
            pid = self.kiosk().pid
            return bool(pid) and self.vm.run(
                f"journalctl -b _PID={pid} -o cat | grep -q 'scanner gun .* ok'").ok
        wait_until(opened, timeout, every=2, message="the kiosk opening the scanner gun")

    def playing(self, scene: str, fps: float = 4, loop: bool = True, scanner: bool = True,
                camera: str | None = None) -> bool:
        """Whether every start of the kiosk since the last stage() plays exactly this."""
        return self.staged == (scene, camera or f"file:{FRAMES}?fps={fps:g}&loop={int(loop)}",
                               scanner)

    def type_on_scanner(self, text: str) -> None:
        self.vm.sh(f"printf '%s\\n' {shlex.quote(text)} > /run/gatehouse-vm/scanner.fifo", timeout=30)

    # -- the gate's log and the hub's -------------------------------------------------

    def query(self, db: str, sql: str) -> list[dict]:
        out = self.vm.sh(f"sqlite3 -json {db} {shlex.quote(sql)}", timeout=60).strip()
        return json.loads(out) if out else []

    def attempts(self, since: float = 0) -> list[dict]:
        return self.query(KIOSK_DB, f"select id, at, outcome, reasons, codes from attempts "
                                    f"where at > {since} order by seq")

    def hub_has(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        quoted = ",".join(f"'{i}'" for i in ids)
        return {r["id"] for r in self.query(HUB_DB, f"select id from gate_events where id in ({quoted})")}

    def integrity(self, db: str) -> str:
        return self.vm.sh(f"sqlite3 {db} 'pragma integrity_check'").strip()

    def wall_time(self) -> float:
        return float(self.vm.sh("date +%s.%N"))


__all__ = ["Gate", "KioskState", "LOCKED", "VMError"]
