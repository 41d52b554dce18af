"""The parcel area's day at full size: tests/test_parcel_day.py with 5,000 parcels
(issue 7's "done when"; the test runs 600), timed phase by phase.

Run: .venv/bin/python -m bench.parcel_day [--parcels 5000]
Prints the test's phase lines (seconds since the day began, and each phase's share) and
the whole run's wall time; the test's assertions hold at this size too (it fails if not).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, default=5000)
    args = ap.parse_args()
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                          "--durations=3", "tests/test_parcel_day.py"], cwd=ROOT,
                         env={**os.environ, "GATEHOUSE_PARCEL_DAY": str(args.parcels)},
                         capture_output=True, text=True)
    lines = run.stdout.splitlines()
    for line in lines:
        if line.startswith("[day]") or " call " in line or " setup " in line \
                or " teardown " in line:
            print(line)
    print(f"{args.parcels:,} parcels: {'passed' if run.returncode == 0 else 'FAILED'}, "
          f"{time.monotonic() - start:.1f} s wall")
    if run.returncode:
        print("\n".join(lines[-40:]), run.stderr[-2000:], sep="\n")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
