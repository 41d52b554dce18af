"""The demo: a compound in a fresh home, sample codes, and what the gate decides for each.

Run it with scripts/demo (python -m demo). It uses the same library calls as `hub` and `kiosk decide`.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from gatehouse import codes
from gatehouse.codes.base45 import ALPHABET
from gatehouse.codes.kinds import Colour, VenueKind
from gatehouse.home import Home
from gatehouse.policy import BuildingStatus, Direction, decide
from gatehouse.timeutil import iso, parse_at
from hub.authority import TestAuthority
from hub.compound import Compound
from kiosk.bundles import load_bundle

HOUR = 3600
# Sample people; the ID numbers are made up but have valid check digits.
RESIDENT_ID, NEIGHBOUR_ID, VISITOR_ID = "110101199003070011", "310104195812010025", \
    "110105201506010032"
COLOURS = {"admit": "\033[42;30m", "refer": "\033[43;30m", "refuse": "\033[41;97m"}


def scenario(c: Compound, a: TestAuthority, now: int) -> list[tuple[str, Direction, list[str]]]:
    """The people who come to the north gate this morning, and the codes they show."""
    yesterday = now - 22 * HOUR
    alice = c.issue_pass(RESIDENT_ID, "张三丰", "7", "302", now - 90 * 24 * HOUR)
    alice_h = a.health(RESIDENT_ID, Colour.GREEN, now - HOUR, yesterday, name="张三丰")
    bob = c.issue_pass(NEIGHBOUR_ID, "李四", "12", "1101", now - 90 * 24 * HOUR)
    bob_yellow = a.health(NEIGHBOUR_ID, Colour.YELLOW, now - HOUR, yesterday)
    bob_red = a.health(NEIGHBOUR_ID, Colour.RED, now - HOUR, yesterday)
    old_test = a.health(RESIDENT_ID, Colour.GREEN, now - HOUR, now - 60 * HOUR)
    visitor_h = a.health(VISITOR_ID, Colour.GREEN, now - HOUR, yesterday, name="王小明")
    visitor_i = a.itinerary(VISITOR_ID, ["上海", "苏州"], True, now - HOUR)
    forged = _alter(alice_h)
    courier = c.issue_courier("赵六", "顺丰速运", now - 5 * 24 * HOUR)
    return [
        ("resident, green code, test yesterday", Direction.IN, [alice, alice_h]),
        ("resident, pass only", Direction.IN, [alice]),
        ("resident, test 60 h ago", Direction.IN, [alice, old_test]),
        ("neighbour, yellow code", Direction.IN, [bob, bob_yellow]),
        ("neighbour, red code", Direction.IN, [bob, bob_red]),
        ("resident's pass with neighbour's code", Direction.IN, [alice, bob_yellow]),
        ("resident, altered health code", Direction.IN, [alice, forged]),
        ("visitor, starred itinerary", Direction.IN, [visitor_h, visitor_i]),
        ("courier", Direction.IN, [courier]),
        ("resident going out", Direction.OUT, [alice]),
    ]


def _alter(text: str) -> str:
    """Change one character in the middle, as a doctored screenshot would."""
    i = len(text) // 2
    return text[:i] + ALPHABET[(ALPHABET.index(text[i]) + 1) % 45] + text[i + 1:]


def show(home: Home, title: str, direction: Direction, texts: list[str], now: int) -> None:
    bundle = load_bundle(home)
    checked = [codes.verify(t, bundle.trust_list(), now) for t in texts]
    d = decide(checked, direction, bundle.gate_state(now, clock_trusted=True), now)
    colour = COLOURS[d.outcome.value]
    print(f"{title:40s} {direction.value:3s} {colour} {d.outcome.value.upper():6s} \033[0m "
          f"{d.subject.name or '-':6s} {d.text('zh')} / {d.text('en')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", help="Use this home folder (default: a new temporary one).")
    parser.add_argument("--at", help="Time of the scenario (default: now).")
    args = parser.parse_args()
    root = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="gatehouse-demo-"))
    home = Home.at(root)
    now = parse_at(args.at)
    c = Compound.create(home, "示范小区 Demo Compound", now - 100 * 24 * HOUR)
    a = TestAuthority.create(home)
    c.trust(a.trusted_key(), now - 100 * 24 * HOUR)
    c.publish(now - HOUR)
    c.issue_venue("gate-north", VenueKind.GATE, now, "北门")
    people = scenario(c, a, now)
    print(f"Gatehouse demo: compound in {home.root}, gate time {iso(now)}\n")
    for title, direction, texts in people:
        show(home, title, direction, texts, now)
    print("\nThe office seals building 7 (hub building set 7 sealed):\n")
    c.set_building("7", BuildingStatus.SEALED, now, "demo")
    for title, direction, texts in (people[-1], people[0]):
        show(home, title, direction, texts, now)
    print(f"\nTry it yourself: export GATEHOUSE_HOME={home.root}; "
          ".venv/bin/kiosk decide --help")


if __name__ == "__main__":
    main()
