"""The kiosk's settings: one typed object, every default here.

Read from `<home>/kiosk/config.toml`, then from GATEHOUSE_KIOSK_* environment
variables (GATEHOUSE_KIOSK_CAMERA=file:/srv/frames), then command-line options.
"""
from __future__ import annotations

import os
import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gatehouse.home import Home
from kiosk.gpio import PinConfig

ENV_PREFIX = "GATEHOUSE_KIOSK_"


class KioskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gate_id: str = Field("gate-1", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    role: Literal["gate", "parcels"] = "gate"          # parcels: the pickup kiosk at the shelves
    direction: Literal["in", "out"] = "in"
    camera: str = "v4l2:0?width=640&height=480"
    decoder: Literal["pipeline", "zxing", "pyzbar"] = "pipeline"
    cooldown_s: float = Field(2.5, gt=0, le=60)       # same code held in view: one scan
    attempt_window_s: float = Field(8.0, gt=0, le=60)  # wait this long for the next code
    referral_timeout_s: float = Field(90.0, gt=0, le=3600)
    result_seconds: float = Field(10.0, gt=0, le=60)  # then personal data leaves the screen
    retention_days: int = Field(28, ge=1, le=365)     # the gate's own log, once acknowledged
    web_bind: str = "127.0.0.1"                       # the volunteer screen (kiosk/web)
    web_port: int | None = Field(8000, ge=0, le=65535)  # 0: any free port; None: no screen
    alarm_seconds: float = Field(10.0, gt=0, le=600)
    clock: Literal["auto", "trusted", "untrusted"] = "auto"
    # lgpio, rpigpio, native, or "mock" (simulated pins, never chosen by itself: a gate
    # without GPIO refuses to start unless mock pins are asked for by name).
    pin_factory: str | None = None
    relay_chip: int | None = Field(None, ge=0, le=63)  # gpiochip for lgpio; None: 4 on a Pi 5, else 0
    # A USB scanner gun or keyboard-wedge ID reader: "evdev:/dev/input/by-id/…-event-kbd",
    # or "evdev:auto" for the first keyboard-like device by id; None: camera only.
    scanner: str | None = Field(None, pattern=r"^evdev:.+$")
    gun_cooldown_s: float = Field(5.0, gt=0, le=60)  # a gun's same code again: one scan
    # "auto": TLS to the broker when enrolled with the hub's CA, never plain instead;
    # "off": the plain port even then (the MQTT password crosses the LAN in the clear).
    broker_tls: Literal["auto", "off"] = "auto"
    pins: dict[str, float | int | bool | None] = Field(default_factory=dict)

    def pin_config(self) -> PinConfig:
        return PinConfig(**self.pins)


def load_config(home: Home, **overrides) -> KioskConfig:
    """Defaults, then the home's config.toml, then the environment, then `overrides`."""
    doc: dict = {}
    path = home.kiosk / "config.toml"
    if path.exists():
        with open(path, "rb") as fh:
            doc.update(tomllib.load(fh))
    for name in KioskConfig.model_fields:
        value = os.environ.get(ENV_PREFIX + name.upper())
        if value is not None and name != "pins":
            doc[name] = value
    doc.update({k: v for k, v in overrides.items() if v is not None})
    config = KioskConfig.model_validate(doc)
    config.pin_config()  # pin numbers are checked now, not when the door is first needed
    return config
