"""The `kiosk` command: what runs at a gate."""
from __future__ import annotations

import logging
import sys
import time

import click
from pydantic import ValidationError

from gatehouse import codes
from gatehouse.cli_common import (
    at_option,
    epoch,
    fail,
    home_option,
    print_json,
    resolve_home,
)
from gatehouse.codes.format import CodeError
from gatehouse.policy import Direction, decide
from gatehouse.timeutil import DEFAULT_ZONE
from kiosk import runner
from kiosk.bundles import BundleCache, KioskSetupError, load_bundle
from kiosk.clock import ClockState, clock_state
from kiosk.config import load_config
from kiosk.gpio import PinFactoryUnavailable
from kiosk.scanner import make_decoder
from kiosk.scanner.camera import read_image


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Gatehouse gate kiosk."""


@main.command("decide")
@home_option
@at_option
@click.option("--direction", type=click.Choice(["in", "out"]), default="in", show_default=True)
@click.option("--clock", type=click.Choice(["auto", "trusted", "untrusted"]), default=None,
              help="Clock state (default: trusted with --at, else asked of the kernel).")
@click.argument("code_texts", metavar="CODE...", nargs=-1, required=True)
def decide_cmd(home, at, direction, clock, code_texts) -> None:
    """Decide one attempt from the codes a person shows; '-' reads codes, one a line, from stdin."""
    if code_texts == ("-",):
        code_texts = tuple(line for line in sys.stdin.read().splitlines() if line.strip())
    cache = BundleCache(resolve_home(home))
    try:
        bundle = cache.get()
    except KioskSetupError as exc:
        fail(str(exc))
    now = epoch(at, bundle.policy.timezone if bundle else DEFAULT_ZONE)
    trusted = clock_state(clock or ("trusted" if at else "auto")) is ClockState.TRUSTED
    # The hub's own copy (a shared home) is current by definition.
    state = bundle.gate_state(now, trusted, now if cache.live else None)
    checked = [codes.verify(t, bundle.trust_list(), now, bundle.policy.code_skew_seconds)
               for t in code_texts]
    decision = decide(checked, Direction(direction), state, now)
    doc = decision.to_json()
    doc["bundle_version"] = bundle.version
    doc["codes"] = [_summary(c) for c in checked]
    print_json(doc)


@main.command("run")
@home_option
@click.option("--camera", default=None, help="file:DIR?fps=15, video:FILE, v4l2:0, picamera2.")
@click.option("--direction", type=click.Choice(["in", "out"]), default=None)
@click.option("--gate-id", default=None)
@click.option("--pin-factory", default=None,
              help="lgpio, rpigpio, native, or mock (simulated pins: the door is not connected).")
@click.option("--scanner", default=None,
              help="A scanner gun / ID reader: evdev:/dev/input/by-id/...-event-kbd, "
              "evdev:name=TEXT or evdev:auto.")
@click.option("--decoder", type=click.Choice(["pipeline", "zxing", "pyzbar"]), default=None)
@click.option("--clock", type=click.Choice(["auto", "trusted", "untrusted"]), default=None)
@click.option("--web-port", type=click.IntRange(0, 65535), default=None,
              help="Port of the volunteer screen (default 8000; 0: any free port).")
def run_cmd(home, camera, direction, gate_id, pin_factory, scanner, decoder, clock,
            web_port) -> None:
    """Run the gate loop until stopped (SIGTERM leaves the door locked)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    h = resolve_home(home)
    try:
        config = load_config(h, camera=camera, direction=direction, gate_id=gate_id,
                             pin_factory=pin_factory, scanner=scanner, decoder=decoder,
                             clock=clock, web_port=web_port)
        runner.run(h, config)
    except (KioskSetupError, PinFactoryUnavailable, ValidationError, ValueError,
            OSError) as exc:
        fail(str(exc))


@main.command("scan")
@home_option
@at_option
@click.option("--decide", "with_decision", is_flag=True,
              help="Also decide the codes of all images as one attempt.")
@click.option("--direction", type=click.Choice(["in", "out"]), default="in")
@click.option("--decoder", type=click.Choice(["pipeline", "zxing", "pyzbar"]),
              default="pipeline", show_default=True)
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def scan_cmd(home, at, with_decision, direction, decoder, images) -> None:
    """Read the codes in image files; prints one JSON line per image."""
    dec = make_decoder(decoder)
    found: list[str] = []
    for path in images:
        image = read_image(path)
        if image is None:
            print_json({"image": path, "error": "not an image file"})
            continue
        started = time.perf_counter()
        symbols = dec.decode(image)
        ms = (time.perf_counter() - started) * 1000
        found += [s.text for s in symbols]
        print_json({"image": path, "ms": round(ms, 2),
                    "codes": [{"format": s.format, "text": s.text} for s in symbols]})
    if with_decision:
        try:
            bundle = load_bundle(resolve_home(home))
        except KioskSetupError as exc:
            fail(str(exc))
        now = epoch(at, bundle.policy.timezone)
        checked = [codes.verify(t, bundle.trust_list(), now) for t in found]
        state = bundle.gate_state(now, at is not None or clock_state("auto") is ClockState.TRUSTED)
        doc = decide(checked, Direction(direction), state, now).to_json()
        print_json({"decision": doc, "bundle_version": bundle.version})


@main.command("voice")
@home_option
def voice_cmd(home) -> None:
    """Generate the spoken prompts (espeak-ng) for the volunteer screen."""
    from kiosk.voice import generate
    try:
        written = generate(resolve_home(home).kiosk / "voice")
    except (FileNotFoundError, OSError) as exc:
        fail(str(exc))
    click.echo(f"{len(written)} prompts written to {written[0].parent}")


def _summary(code) -> dict:
    """What the output may say of each code: its kind and id, or why it failed."""
    if isinstance(code, CodeError):
        out = {"problem": code.problem.value, "detail": code.detail,
               "fingerprint": code.fingerprint}
        if code.kind:
            out["kind"] = code.kind.name.lower()
        return out
    return {"kind": code.kind.name.lower(), "id": code.id, "issuer": code.issuer}


@main.command("enroll")
@home_option
@click.option("--code", "code_text", default=None, help="The enrollment code's text.")
@click.option("--camera", default=None,
              help="Scan the code with this camera (v4l2:0, picamera2, file:DIR).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=120.0, show_default=True,
              help="Seconds to wait for the code in front of the camera.")
def enroll_cmd(home, code_text, camera, timeout) -> None:
    """Become a registered gate with the hub's one-time code (docs/deploy.md)."""
    from kiosk.enroll import EnrollFailed, enroll, scan_for_code
    if bool(code_text) == bool(camera):
        fail("give either --code TEXT or --camera SPEC")
    h = resolve_home(home)
    try:
        text = code_text or scan_for_code(camera, timeout)
        done = enroll(h, text)
    except (EnrollFailed, OSError, ValueError) as exc:
        fail(str(exc))
    click.echo(f"enrolled as gate {done.gate_id}: broker {done.endpoint.host}:"
               f"{done.endpoint.port}; start it with `kiosk run` (or systemctl restart "
               "gatehouse-kiosk)")


if __name__ == "__main__":
    main()
