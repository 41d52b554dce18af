"""The `kiosk` command: what runs at a gate."""
from __future__ import annotations

import sys

import click

from gatehouse import codes
from gatehouse.cli_common import at_option, epoch, fail, home_option, print_json, resolve_home
from gatehouse.codes.format import CodeError
from gatehouse.policy import Direction, decide
from gatehouse.timeutil import DEFAULT_ZONE
from kiosk.bundles import KioskSetupError, load_bundle
from kiosk.clock import ClockState, clock_state


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
    try:
        bundle = load_bundle(resolve_home(home))
    except KioskSetupError as exc:
        fail(str(exc))
    now = epoch(at, bundle.policy.timezone if bundle else DEFAULT_ZONE)
    trusted = clock_state(clock or ("trusted" if at else "auto")) is ClockState.TRUSTED
    state = bundle.gate_state(now, trusted)
    checked = [codes.verify(t, bundle.trust_list(), now, bundle.policy.code_skew_seconds)
               for t in code_texts]
    decision = decide(checked, Direction(direction), state, now)
    doc = decision.to_json()
    doc["bundle_version"] = bundle.version
    doc["codes"] = [_summary(c) for c in checked]
    print_json(doc)


def _summary(code) -> dict:
    """What the output may say of each code: its kind and id, or why it failed."""
    if isinstance(code, CodeError):
        out = {"problem": code.problem.value, "detail": code.detail,
               "fingerprint": code.fingerprint}
        if code.kind:
            out["kind"] = code.kind.name.lower()
        return out
    return {"kind": code.kind.name.lower(), "id": code.id, "issuer": code.issuer}


if __name__ == "__main__":
    main()
