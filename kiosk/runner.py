"""`kiosk run`: build a Gate from its parts, run it, and stop it with the door locked."""
from __future__ import annotations

import logging
import signal
import threading

from gatehouse.home import Home
from kiosk.bundles import load_bundle
from kiosk.clock import ClockState, clock_state
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import create_hardware
from kiosk.scanner import LatestFrame, make_decoder, open_source
from kiosk.store import Store

log = logging.getLogger("kiosk")


def build_gate(home: Home, config: KioskConfig) -> Gate:
    """The parts of one gate, in start-up order; the door is locked from the first step."""
    hardware = create_hardware(config.pin_config(), config.pin_factory)
    log.info("pins: %s", hardware.description)
    try:
        store = Store(home.kiosk_db)
        return Gate(config=config, store=store, hardware=hardware,
                    decoder=make_decoder(config.decoder),
                    load_bundle=lambda: load_bundle(home),
                    clock_trusted=lambda: clock_state(config.clock) is ClockState.TRUSTED)
    except BaseException:
        hardware.close()
        raise


def run(home: Home, config: KioskConfig, stop: threading.Event | None = None) -> None:
    """Run the gate loop until SIGTERM / SIGINT (or `stop`); the door stays locked after."""
    stop = stop or threading.Event()
    gate = build_gate(home, config)
    try:
        frames = LatestFrame(open_source(config.camera))
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        log.info("gate %s running, direction %s, bundle %s, camera %s", config.gate_id,
                 config.direction, gate.bundle.version, config.camera)
        try:
            gate.run(frames, stop)
        finally:
            frames.close()
    finally:
        gate.close()
        gate.store.close()
