"""Issue 12: the gate on hardware-faithful ground. A QEMU VM (Debian 12, systemd, no
network) holds a real GPIO character device (gpio-sim, built so a released output keeps
its last level as on a Raspberry Pi) and a virtual USB scanner gun; the project's own
deploy/install-hub.sh and deploy/install-kiosk.sh set up a hub and a gate in it from a
wheelhouse. Every check reads the relay line (GPIO17, active-low board: 1 = locked) from
the kernel's side. tests/vm/ has the machinery; GATEHOUSE_VM=0 skips all of it.

Run alone: ./scripts/test -m vm   (a cold cache builds the image and runs the installers
once, ~15-25 min under emulation; cached runs boot and check in a few minutes)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from gatehouse.processes import wait_until
from tests.vm.provision import LOCKED, UNLOCKED

# `pytest -m vm` selects this module, `-m "not vm"` leaves it out; under ./scripts/test
# its tests run in order on one worker (a file per worker), beside the rest of the suite.
pytestmark = pytest.mark.vm
PULSE_S = 3.0      # the kiosk's default unlock_seconds (kiosk/gpio/config.py)
TCG_SLACK_S = 4.0  # emulated CPUs: a decision takes longer than on a Pi
NO_CAMERA = "v4l2:0?width=640&height=480"   # the VM has no video device


@pytest.fixture(scope="module")
def session():
    if os.environ.get("GATEHOUSE_VM", "1") == "0":
        pytest.skip("GATEHOUSE_VM=0: the VM test is switched off")
    from tests.vm.session import CannotRun, Session
    s = Session(log=lambda msg: print(f"[vm] {msg}", flush=True))
    try:
        s.up()
    except CannotRun as why:
        s.down()
        pytest.skip(f"the gate VM cannot run here: {why}")
    except BaseException:
        s.down(keep=True)
        raise
    yield s
    print(f"[vm] timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in s.timings.items()))
    s.down(keep=os.environ.get("GATEHOUSE_VM_KEEP") == "1")


@pytest.fixture(scope="module")
def gate(session):
    from tests.vm.gate import Gate
    g = Gate(session.vm, session.share)
    # The VM came up to basic.target: the door-lock service has run, nothing else of the
    # project's has touched the line yet.
    g.first_level = g.level()
    g.stage("empty")                 # nobody at the door; the scanner gun plugged in
    session.update_code()            # this tree's code; nothing of the project's runs yet
    # Every scene's residents' codes, in one process running the hub's own functions,
    # while nothing else runs in the VM: beside the services' start it once ran past its
    # limit, and the kiosk's start past its own.
    t = time.monotonic()
    g.prepare(7)
    session.timings["codes for every scene"] = time.monotonic() - t
    session.start_services()
    waited, _ = g.wait_kiosk(timeout=300)
    session.timings["services up, kiosk ready"] = waited
    session.log(f"codes made in {session.timings['codes for every scene']:.0f} s; kiosk "
                f"ready {waited:.0f} s after the services' start")
    g.first_boot_probes = [p for p in g.probes() if p[0] == session.vm.boot_id]
    return g


def lvl(v: int) -> str:
    return "locked" if v == LOCKED else "UNLOCKED"


# 1 -------------------------------------------------------------------------------------
def test_locked_from_boot_before_the_kiosk_starts(session, gate):
    probes = gate.first_boot_probes
    assert probes, ("the kiosk never started in this boot (no probe of the line at its start):\n"
                    + gate.journal())
    boot_id, uptime, level = probes[0]
    assert level == LOCKED, (
        f"the relay line was {lvl(level)} when systemd started the kiosk {uptime:.1f} s after "
        "boot: gatehouse-door-lock.service did not drive it locked (GPIO17 powers on pulled "
        "down, which an active-low board takes as 'open')")
    result = gate.vm.sh("systemctl show -p Result --value gatehouse-door-lock.service").strip()
    assert result == "success", f"door-lock service: {result}\n" + gate.journal(20, "gatehouse-door-lock")
    assert gate.first_level == LOCKED, f"line {lvl(gate.first_level)} once booted"
    print(f"locked at the kiosk's start, {uptime:.1f} s after boot")


# 2 -------------------------------------------------------------------------------------
def test_frozen_gate_loop_is_restarted_by_the_watchdog_and_the_door_stays_locked(gate):
    if not gate.playing("empty"):   # the kiosk's first start plays nobody at the door
        gate.play("empty")
    before = gate.kiosk()
    watchdog = gate.vm.sh("systemctl show -p WatchdogUSec --value gatehouse-kiosk").strip()
    log = gate.watch_in_background("frozen", 240)
    gate.vm.sh(f"kill -STOP {before.pid}")
    t0 = time.monotonic()
    waited, state = gate.wait_kiosk(timeout=180, not_pid=before.pid)
    total = time.monotonic() - t0
    time.sleep(3)  # the new kiosk has claimed the line by now: any blip would show
    changes = gate.changes(log)
    gate.unwatch()
    assert all(v == LOCKED for _, v in changes), f"the line moved: {changes}"
    assert state.restarts > before.restarts
    print(f"watchdog ({watchdog}) restarted the frozen kiosk; back {total:.0f} s after "
          "SIGSTOP; line locked throughout")


# 3 -------------------------------------------------------------------------------------
def test_an_admitted_person_unlocks_for_the_pulse_and_locks_again(gate):
    (p, h), = gate.issue(1)
    scene = gate.scene("admit-1", [p, h], blank_after=200)  # then ~50 s of nobody
    log = gate.watch_in_background("admit-1", 600)  # from before the kiosk restarts
    gate.play(scene)

    def first_open(ch: list) -> int | None:
        """The first unlock after the watch's start that a later change ended."""
        opened = [i for i, c in enumerate(ch) if c[1] == UNLOCKED and i > 0]
        return opened[0] if opened and opened[0] + 1 < len(ch) else None
    changes = wait_until(lambda: gate.changes(log), 180, every=0.5,
                         message="the door opening and locking again for an admitted resident",
                         until=lambda ch: first_open(ch) is not None,
                         seen=lambda ch: f"line: {ch}; attempts: {gate.attempts()[-3:]}\n"
                                         + gate.journal(30))
    i = first_open(changes)
    gate.unwatch()
    held = changes[i + 1][0] - changes[i][0]
    assert PULSE_S - 0.3 <= held <= PULSE_S + 1.0, f"unlocked for {held:.2f} s, configured {PULSE_S} s"
    admits = [a for a in gate.attempts() if a["outcome"] == "admit"]
    assert any(changes[i][0] - 10 <= a["at"] <= changes[i][0] + 0.05 for a in admits), \
        "the door opened without an admit logged before it"
    print(f"unlocked for {held:.2f} s (pulse {PULSE_S} s), then locked")


# 4 -------------------------------------------------------------------------------------
def test_kill_9_mid_pulse_locks_within_a_second_and_the_kiosk_comes_back(gate):
    from concurrent.futures import ThreadPoolExecutor
    persist = gate.vm.sh("cat /sys/module/gpio_sim/parameters/persist_outputs").strip()
    assert persist == "Y", "gpio-sim does not keep released outputs like a Pi: the check would prove nothing"
    (p, h), = gate.issue(1)
    gate.unwatch()                   # nothing else polling the line (if scenes above failed)
    gate.stop()
    gate.stage(gate.scene("admit-kill", [p, h], blank_after=200))
    with ThreadPoolExecutor(1) as pool:
        # waits for the unlock, kills 0.5 s into the pulse, watches the line
        job = pool.submit(gate.line, "kill-mid-pulse", str(int(signal.SIGKILL)), "300",
                          timeout=400)
        time.sleep(2)
        gate.start(wait=False)       # the kiosk on the scene
        seen = job.result()
    assert "error" not in seen, f"{seen.get('error')}\n" + gate.journal(30)
    assert seen["pid"], f"no main process in the kiosk's cgroup at the unlock: {seen}"
    assert seen["still_unlocked_at_kill"], (
        f"the pulse had ended before the kill: unlocked at {seen['unlocked_at']:.2f}, killed at "
        f"{seen['kill_at']:.2f}, line changes {seen['changes']}\n" + gate.journal(30))
    assert "locked_at" in seen, (
        "after kill -9 mid-pulse the door stayed UNLOCKED for 30 s (the line keeps its level "
        "like a Pi's: nothing drove it locked; ExecStopPost= missing?)\n" + gate.journal(30))
    after_kill = seen["locked_at"] - seen["kill_at"]
    waited, state = gate.wait_kiosk(timeout=180, not_pid=seen["pid"])
    # Without ExecStopPost= the line never locks (it keeps its level, above); with it the
    # lock is one process start by systemd away: 0.33-0.92 s measured on this emulated VM
    # at host load 2-4 (session 7), ~0.05 s expected on a Pi. 2 s: still a failure for a
    # lock that waited for anything but the kiosk's death.
    assert after_kill <= 2.0, f"locked {after_kill:.2f} s after kill -9 (must be within 2 s)"
    assert seen["level"] == LOCKED
    # (NRestarts is no witness here: the kill may land while the restart job of play()
    # is still starting the unit. systemd's own line about the kill is.)
    assert "status=9/KILL" in gate.journal(80), "systemd did not see the kiosk killed"
    print(f"locked {after_kill:.2f} s after kill -9 (0.5 s into the pulse); "
          f"kiosk back and ready {waited:.0f} s later")


# 5 -------------------------------------------------------------------------------------
def test_no_camera_at_start_shows_the_screen_keeps_the_door_locked_and_does_not_loop(gate):
    waited = gate.play("empty", camera=NO_CAMERA)
    state = gate.kiosk()
    restarts = state.restarts
    seen = gate.line("watch", "30", timeout=90)
    later = gate.kiosk()
    status, page = gate.screen()
    assert later.restarts == restarts and later.pid == state.pid, (
        f"the kiosk restarted without a camera ({restarts} -> {later.restarts})\n" + gate.journal(30))
    assert status == 200, f"no volunteer screen without a camera: {page[:300]}"
    assert "camera" in (page + later.status).lower() or "摄像" in page, (
        f"neither the screen nor the unit's status says the camera is missing: {later.status!r}")
    assert all(c[2] == LOCKED for c in seen["changes"])
    print(f"no camera: ready in {waited:.0f} s, screen up, status {later.status!r}, no restart in 30 s")


# 6 -------------------------------------------------------------------------------------
def test_a_scanner_gun_typing_codes_is_read_and_decided(gate):
    import json
    # The gun is plugged in from the kiosk's first start, and the scene above left the
    # kiosk without a camera (the gun is what a volunteer uses then): no restart unless
    # this scene runs on its own. Without a camera the kiosk decodes no frames, and its
    # reader keeps up with the gun better on a loaded emulated machine.
    if not (gate.playing("empty", camera=NO_CAMERA) or gate.playing("empty")):
        gate.play("empty", camera=NO_CAMERA)
    gate.wait_scanner()
    (p, h), = gate.issue(1)
    # The gun types a key every 2 ms, like a real one; on a loaded emulated machine the
    # kiosk can fall behind and the kernel drops keys (SYN_DROPPED). Such a read is thrown
    # away, never decided on (no attempt at all, or MISSING_CODE when one of the two codes
    # was lost), and the volunteer scans again: so may the test, four times.
    t_first = gate.wall_time()
    found: list[dict] = []
    for tries in range(1, 6):
        t_start = gate.wall_time()
        gate.type_on_scanner(p)
        gate.type_on_scanner(h)
        try:
            found = wait_until(lambda: gate.attempts(since=t_start), 45, every=2,
                               message="an attempt from the scanner gun")
        except TimeoutError:
            found = []
        if found and (found[-1]["outcome"] == "admit" or
                      "MISSING_CODE" not in json.loads(found[-1]["reasons"] or "[]")):
            break
        time.sleep(6)            # past the gun's 5 s debounce of the same code
    lost = gate.vm.run("journalctl -b -u gatehouse-kiosk -o cat | grep -c 'lost characters'").out.strip()
    assert found, f"no attempt from the scanner gun in {tries} scans ({lost} reads lost keys)"
    assert found[-1]["outcome"] == "admit", f"decided {found[-1]['outcome']}: {found[-1]['reasons']}"
    broken = [a for a in gate.attempts(since=t_first)
              if "CODE_INVALID" in json.loads(a["reasons"] or "[]")]
    assert not broken, f"a read that lost keys was decided on as a forged code: {broken}"
    print(f"scanner gun: admitted on scan {tries} ({lost} reads lost keys)")


# 7 -------------------------------------------------------------------------------------
def test_power_cut_in_a_burst_with_the_hub_away_then_locked_at_boot_both_databases_whole_and_the_backlog_at_the_hub(session, gate):
    """The power cut is also the test's reboot (one boot fewer than a clean reboot and a
    power cut, each booting): the boot after it is a full one, the kiosk's first start in
    it must find the line locked, and everything the gate logged while the hub was away
    (its backlog: the burst) must reach the hub once it is back. At the cut the kiosk is
    writing its log (the burst) and the office the hub's database (passes issued back to
    back with the hub's own code, since the hub's service is away)."""
    gate.vm.sh("systemctl stop gatehouse-hub")            # the hub away: a backlog builds
    t_start = gate.wall_time()
    codes = gate.issue(4)
    texts = [t for pair in codes for t in pair]
    # 4 s of nobody after each code: every admit is its own opening (a pulse is 3 s)
    scene = gate.scene("burst", texts, frames_each=2, gap=16)
    churn_log = session.share / "churn.log"
    churn_log.unlink(missing_ok=True)
    # The line watched from before the kiosk's start on the burst (its first code comes at
    # once), every change logged to the host's share at once: it outlives the power cut.
    opens_log = gate.watch_in_background("opens", 600)
    gate.play(scene, fps=4)
    # (after the kiosk's start, not beside it: on a loaded machine that start ran long)
    gate.office_writing(400)

    def opens() -> list[str]:
        """The line's unlocks so far, from the watcher's file (it outlives the VM)."""
        return [ln for ln in opens_log.read_text().splitlines() if ln.endswith(f" {UNLOCKED}")] \
            if opens_log.exists() else []
    wait_until(opens, 300, every=0.5, message="the burst opening the door twice",
               until=lambda seen: len(seen) >= 2)
    t_opened = time.monotonic()
    backlog = wait_until(lambda: [a["id"] for a in gate.attempts(since=t_start)], 60, every=0.5,
                         message="attempts logged while the hub is away")
    wait_until(lambda: churn_log.exists() and churn_log.read_text().split(), 180, every=0.5,
               message="the office writing passes to the hub's database")
    time.sleep(max(0.0, t_opened + 1.2 - time.monotonic()))   # mid-burst, likely mid-write
    session.vm.power_cut()
    opened_at = [float(ln.split()[0]) for ln in opens()]
    office_passes = len(churn_log.read_text().split())
    t = time.monotonic()
    session.vm.start()
    # (a loaded machine took over 240 s here: the boot's limit only keeps a hung VM short)
    session.vm.wait_boot(timeout=420)
    took = time.monotonic() - t
    probes = [x for x in gate.probes() if x[0] == gate.vm.boot_id]
    assert probes and probes[0][2] == LOCKED, f"at the kiosk's start after the power cut: {probes}"
    gate.wait_kiosk(timeout=180)
    assert gate.integrity("/var/lib/gatehouse/kiosk/kiosk.db") == "ok"
    assert gate.integrity("/var/lib/gatehouse/hub/hub.db") == "ok"
    admits = [a for a in gate.attempts() if a["outcome"] == "admit"]
    missing = [t for t in opened_at if not any(t - 5 <= a["at"] <= t + 0.05 for a in admits)]
    assert not missing, f"door openings with no admitted attempt in the gate's log: {missing}"
    ids = [a["id"] for a in admits if any(t - 5 <= a["at"] <= t + 0.05 for t in opened_at)]
    want = set(ids) | set(backlog)
    wait_until(lambda: gate.hub_has(sorted(want)), 180, every=3,
               message="every opened attempt and the backlog at the hub",
               until=lambda have: have == want,
               seen=lambda have: f"missing {sorted(want - have)}")
    print(f"power cut after {len(opened_at)} openings and {office_passes} office passes; "
          f"boot {took:.0f} s, locked at the kiosk's start; both databases ok; "
          f"{len(want)} attempt(s) of the backlog at the hub")
