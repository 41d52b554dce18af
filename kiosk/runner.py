"""`kiosk run`: build a Gate from its parts, run it, and stop it with the door locked.

Start-up, in order: pins (door locked from the first instant), log, bundle, decoder,
clock, the hub link (when this gate has broker credentials), the camera, the loop.
"""
from __future__ import annotations

import logging
import signal
import threading

from gatehouse.endpoint import Endpoint
from gatehouse.home import Home
from kiosk.bundles import BundleCache, hub_key
from kiosk.clock import ClockJudge
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import create_hardware
from kiosk.link import HubLink, LinkConfig
from kiosk.scanner import LatestFrame, make_decoder, open_source
from kiosk.store import Store

log = logging.getLogger("kiosk")


def build_gate(home: Home, config: KioskConfig, clock: ClockJudge) -> Gate:
    """The parts of one gate; the door is locked from the first step."""
    hardware = create_hardware(config.pin_config(), config.pin_factory)
    log.info("pins: %s", hardware.description)
    try:
        store = Store(home.kiosk_db)
        return Gate(config=config, store=store, hardware=hardware,
                    decoder=make_decoder(config.decoder), load_bundle=BundleCache(home).get,
                    clock_trusted=clock.trusted)
    except BaseException:
        hardware.close()
        raise


def start_link(home: Home, config: KioskConfig, gate: Gate, clock: ClockJudge,
               frames: LatestFrame) -> HubLink | None:
    """Connect to the hub's broker when this gate has credentials; offline otherwise."""
    if not home.kiosk_mqtt.exists():
        log.warning("no %s: running offline, events stay in the outbox", home.kiosk_mqtt)
        return None
    ep = Endpoint.read(home.kiosk_mqtt)

    def status() -> dict:
        return {"bundle_version": gate.bundle.version,
                "policy_version": gate.bundle.policy.version, "fps": round(frames.fps, 1),
                "decoder": config.decoder, "direction": gate.direction.value,
                "camera_ok": True}
    link = HubLink(LinkConfig(config.gate_id, ep.host, ep.port, ep.username, ep.password),
                   home.kiosk_db, home.kiosk_bundle, hub_key(home), clock, status,
                   current_bundle_version=lambda: gate.bundle.version)
    link.start()
    return link


def run(home: Home, config: KioskConfig, stop: threading.Event | None = None) -> None:
    """Run the gate loop until SIGTERM / SIGINT (or `stop`); the door stays locked after."""
    stop = stop or threading.Event()
    clock = ClockJudge(config.clock)
    gate = build_gate(home, config, clock)
    link = None
    try:
        frames = LatestFrame(open_source(config.camera))
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        link = start_link(home, config, gate, clock, frames)
        log.info("gate %s running, direction %s, bundle %s, camera %s", config.gate_id,
                 config.direction, gate.bundle.version, config.camera)
        try:
            gate.run(frames, stop)
        finally:
            frames.close()
    finally:
        gate.close()
        if link:
            link.stop()
        gate.store.close()
