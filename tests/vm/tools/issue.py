"""Runs inside the VM with the hub's Python, as the hub's user (copied there per run):
what `hub authority init` (when there is no authority yet), `hub issue pass` and
`hub authority health` do, in ONE process. Under emulation every start of the `hub`
command costs 20-70 s, most of it importing every command group; this imports only the
two classes those commands call (hub.compound.Compound, hub.authority.TestAuthority), so
the codes are the ones the command line would print.

  issue.py codes PEOPLE_JSON   [[person id, name, room], ...] -> [[pass, health], ...]
  issue.py churn SECONDS       issue passes to made-up residents back to back for
                               SECONDS, printing a count after each: the office writing
                               the hub's database (the power-cut scene cuts the power in
                               the middle of it)
Home: GATEHOUSE_HOME. Health codes are green, "tested three hours ago".
"""
import json
import os
import sys
import time

from gatehouse.codes.kinds import Colour
from gatehouse.home import Home
from hub.authority import TestAuthority
from hub.compound import Compound

HOUR = 3600


def authority(home: Home, compound: Compound, at: int) -> TestAuthority:
    """The test authority of the home; made and trusted first, as `hub authority init`."""
    if home.authority_key.exists():
        return TestAuthority.open(home)
    made = TestAuthority.create(home)
    compound.trust(made.trusted_key(), at)
    return made


def codes(people: list[list[str]]) -> list[list[str]]:
    home = Home.at(os.environ["GATEHOUSE_HOME"])
    compound = Compound.open(home)
    at = int(time.time())
    health = authority(home, compound, at)
    tested = (at - 3 * HOUR) // 60 * 60     # to the minute, as --tested-at is given
    out = []
    for person_id, name, room in people:
        p = compound.issue_pass(person_id, name, "7", room, at)
        h = health.health(person_id, Colour.GREEN, at, tested)
        out.append([p, h])
    return out


def churn(seconds: float) -> int:
    compound = Compound.open(Home.at(os.environ["GATEHOUSE_HOME"]))
    end, n = time.monotonic() + seconds, 0
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    while time.monotonic() < end:
        n += 1
        # made-up ID numbers: 18 digits, the check digit computed as the hub requires
        body = f"1101011990{n % 10_000_000:07d}"
        pid = body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
        compound.issue_pass(pid, f"办公{n}", "9", str(n), int(time.time()))
        print(n, flush=True)
    return n


if __name__ == "__main__":
    if sys.argv[1] == "codes":
        print(json.dumps(codes(json.loads(sys.argv[2]))))
    elif sys.argv[1] == "churn":
        churn(float(sys.argv[2]))
