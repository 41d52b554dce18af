"""`kiosk run`: build a Gate from its parts, run it, and stop it with the door locked.

Start-up, in order: pins (door locked from the first instant; mock pins only when asked
for, and then said loudly), log, the hub link (when this gate has broker credentials),
the volunteer screen, READY=1 to systemd, the camera (it may be missing: the screen says
so and it is looked for again every few seconds); then the first bundle (a new gate waits
for it with its screen up, door locked), decoder and scanner gun (missing: the same), then
the loop, which feeds systemd's watchdog from its own thread. A parcel-area kiosk (role "parcels") also
reads the shelf manifest the link saves, and starts from the last copy when offline.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from gatehouse.endpoint import Endpoint
from gatehouse.home import Home
from gatehouse.sdnotify import Notifier
from gatehouse.stop_signals import stop_on_signals
from kiosk import notices as N
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import BundleCache, KioskSetupError, hub_key
from kiosk.clock import ClockJudge
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import GateHardware, create_hardware
from kiosk.link import HubLink, LinkConfig, LinkRefused, broker_port
from kiosk.manifest import ManifestCache
from kiosk.scanner import LatestFrame, make_decoder
from kiosk.scanner.gun import GunState, ScannerGun, device_of
from kiosk.scanner.reconnect import CameraState, ReconnectingSource, check_spec
from kiosk.web.front import Front

log = logging.getLogger("kiosk")


class _Status:
    """What the heartbeat reports; filled in as the parts come up."""

    def __init__(self, config: KioskConfig, pins: str):
        self.config = config
        self.pins = pins
        self.gate: Gate | None = None
        self.frames: LatestFrame | None = None

    def __call__(self) -> dict:
        g = self.gate
        return {"bundle_version": g.bundle.version if g else 0,
                "policy_version": g.bundle.policy.version if g else 0,
                "fps": round(self.frames.fps, 1) if self.frames else 0.0,
                "decoder": self.config.decoder,
                "direction": g.direction.value if g else self.config.direction,
                # The heartbeat tells the office a camera that stopped delivering frames.
                "camera_ok": bool(g and g.last_frame_at and time.time() - g.last_frame_at < 3),
                "pins": self.pins}  # "mock": this gate's door is not connected


def start_link(home: Home, config: KioskConfig, clock: ClockJudge, cache: BundleCache,
               status: _Status) -> HubLink | None:
    """Connect to the hub's broker when this gate has credentials; offline otherwise."""
    if not home.kiosk_mqtt.exists():
        log.warning("no %s: running offline, events stay in the outbox", home.kiosk_mqtt)
        return None
    ep = Endpoint.read(home.kiosk_mqtt)
    try:   # TLS with the hub's CA when enrolled so; never a silent fall back to plain
        port, ca = broker_port(ep, home.kiosk / "ca.crt", config.broker_tls)
    except LinkRefused as exc:
        log.error("%s; running offline, events stay in the outbox", exc)
        return None
    link = HubLink(LinkConfig(config.gate_id, ep.host, port, ep.username, ep.password,
                              ca_file=ca, role=config.role),
                   home.kiosk_db, home.kiosk_bundle, hub_key(home), clock, status,
                   current_bundle_version=lambda: cache.version,
                   manifest_path=home.kiosk_manifest if config.role == "parcels" else None)
    link.start()
    log.info("hub link to %s:%s%s", ep.host, port, " over TLS" if ca else " (plain MQTT)")
    return link


def first_bundle(cache: BundleCache, link: HubLink | None, stop: threading.Event,
                 notices: N.Notices, notify: Notifier) -> bool:
    """The bundle to start with; a gate that has none waits for the hub's, door locked,
    its screen saying so. This thread is the gate loop's: it feeds the watchdog meanwhile."""
    waited = 0.0
    try:
        while not stop.is_set():
            notify.watchdog()
            try:
                cache.get()
                return True
            except KioskSetupError as exc:
                if link is None:
                    raise
                if waited == 0:
                    notices.set(N.WAITING_FOR_BUNDLE)
                    notify.status(notices.summary())
                if waited % 10 == 0:
                    log.warning("waiting for the first bundle from the hub (%s)", exc)
            stop.wait(0.25)
            waited += 0.25
        return False
    finally:
        notices.clear(N.WAITING_FOR_BUNDLE.key)


class ScreenServer:
    """The volunteer's screen (kiosk/web) served by waitress on its own thread."""

    def __init__(self, front: Front, config: KioskConfig):
        from gatehouse.webserver import ThreadedServer
        self.front = front
        self.server = ThreadedServer(front, config.web_bind, config.web_port, name="screen")
        self.url = f"http://{config.web_bind}:{self.server.port}/"
        log.info("screen listening at %s (the gate is starting)", self.url)

    def show(self, gate: Gate, link: HubLink | None, home: Home) -> None:
        """The gate runs: its own screen replaces the waiting page."""
        from kiosk.web import create_app
        self.front.attach(create_app(gate, (lambda: link.state) if link else (lambda: None),
                                     voice_dir=home.kiosk / "voice"))
        # Said once the gate's own screen serves: tests and technicians wait for this line.
        log.info("volunteer screen at %s", self.url)

    def close(self) -> None:
        self.server.close()


def _watch(notices: N.Notices, notify: Notifier, key: str, missing, notice):
    """A device's state callback: its notice on screen while MISSING, gone after."""
    def on_state(state, problem: str | None) -> None:
        if state is missing:
            notices.set(notice(problem))
        else:
            notices.clear(key)
        notify.status(notices.summary() or "running")
    return on_state


def run(home: Home, config: KioskConfig, stop: threading.Event | None = None,
        started: Callable[[Gate, ScreenServer | None], None] | None = None,
        notify: Notifier | None = None) -> None:
    """Run the gate loop until SIGTERM / SIGINT (or `stop`); the door stays locked after."""
    stop = stop or threading.Event()
    notify = notify or Notifier.from_environment()
    if threading.current_thread() is threading.main_thread():
        stop_on_signals(stop.set)
    check_spec(config.camera)  # typos fail now, not as an endless retry
    if config.scanner:
        device_of(config.scanner)
    hardware: GateHardware = create_hardware(config.pin_config(), config.pin_factory,
                                             chip=config.relay_chip, work_dir=home.kiosk / "run")
    log.info("pins: %s", hardware.description)
    notices = N.Notices()
    if hardware.kind == "mock":
        log.warning("SIMULATED PINS: the door is not connected (pin_factory mock)")
        if config.role == "gate":  # the parcel area has no door to be missing
            notices.set(N.MOCK_PINS)
    store = link = gate = screen = frames = gun = None
    try:
        clock, cache = ClockJudge(config.clock), BundleCache(home)
        status = _Status(config, hardware.kind)
        store = AttemptLog(home.kiosk_db)
        link = start_link(home, config, clock, cache, status)
        if link is not None:
            store.on_outbox = link.wake
        if config.web_port is not None:
            screen = ScreenServer(Front(notices, config.gate_id, config.web_bind), config)
        notify.ready(status=notices.summary() or "starting")  # the screen listens
        # The camera is looked for from the start, so a technician setting up a new gate
        # sees "camera missing" while it still waits for its first bundle.
        on_camera = _watch(notices, notify, "camera", CameraState.MISSING, N.camera_missing)
        frames = status.frames = LatestFrame(ReconnectingSource(config.camera,
                                                                on_state=on_camera))
        if not first_bundle(cache, link, stop, notices, notify):
            return
        manifests = ManifestCache(home.kiosk_manifest, hub_key(home)) \
            if config.role == "parcels" else None
        gate = status.gate = Gate(
            config=config, store=store, hardware=hardware,
            decoder=make_decoder(config.decoder), load_bundle=cache.get,
            clock_trusted=clock.trusted,
            confirmed_at=lambda: time.time() if cache.live else (
                link.state.confirmed_at if link else None),
            load_manifest=manifests.get if manifests else lambda: None)
        if config.scanner:
            on_gun = _watch(notices, notify, "scanner", GunState.MISSING, N.scanner_missing)
            gun = ScannerGun(config.scanner, gate.scanned_by_gun, on_state=on_gun).start()
        if screen:
            screen.show(gate, link, home)
        if started:
            started(gate, screen)
        log.info("gate %s running, %s, bundle %s, camera %s%s", config.gate_id,
                 f"direction {config.direction}" if config.role == "gate" else
                 f"parcel area, shelf manifest {manifests.version or 'none yet'}",
                 gate.bundle.version, config.camera,
                 f", scanner {config.scanner}" if config.scanner else "")
        notify.status(notices.summary() or f"running, bundle {gate.bundle.version}")
        gate.run(frames, stop, alive=notify.watchdog)
    finally:
        notify.stopping()
        took: dict[str, float] = {}  # systemd kills a kiosk not stopped in 15 s: say what took long
        # The screen and devices stop first (no volunteer's tap may reach a closed gate),
        # each on its own: one that fails to close must not skip the door's lock below.
        for name, part in (("scanner", gun), ("camera", frames), ("screen", screen)):
            if part is not None:
                begin = time.monotonic()
                try:
                    part.close()
                except Exception:   # noqa: BLE001 (logged; the door comes next)
                    log.exception("closing %s failed", type(part).__name__)
                took[name] = time.monotonic() - begin
        begin = time.monotonic()
        if gate is not None:
            gate.close()          # locks the door, logs the stop
        else:
            hardware.close()
        took["door"] = time.monotonic() - begin
        if link is not None:
            begin = time.monotonic()
            link.stop()
            took["hub link"] = time.monotonic() - begin
        if store is not None:
            store.close()
        log.info("stopped: %s", ", ".join(f"{k} {v:.1f} s" for k, v in took.items()))
        notify.close()
