"""Shared fixtures: a compound with a test authority in a temporary home, at a fixed time."""
from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gatehouse.home import Home
from hub.authority import TestAuthority
from hub.compound import Compound

pytest_plugins = ["tests.gpio_fixtures", "tests.mqtt_fixtures", "tests.browser_fixtures",
                  "tests.kiosk_fixtures"]

# The emulated machines take most of a run's time, mostly waiting on QEMU: collected
# first, so that under ./scripts/test (pytest-xdist, a file per worker, in this order)
# their workers start on them at once and the rest of the suite runs beside them.
SLOW_FIRST = ("vm", "aarch64")
# Then the longest of the other files, longest first (test time here, 2 cores, loaded:
# docs/performance.md): a long file started last would be the run's tail while the other
# workers sit idle. A file not named keeps its place after them.
LONG_FIRST = ("test_demo.py", "test_sync_failures.py", "test_district_faults.py",
              "test_phone.py", "test_kiosk_process.py", "test_deploy_enroll.py",
              "test_parcel_day.py", "test_live_overview.py", "test_hub_district_link.py",
              "test_tls_gates.py", "test_deploy_backup.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        marked = next((i for i, m in enumerate(SLOW_FIRST) if item.get_closest_marker(m)),
                      None)
        if marked is not None:
            return marked
        name = item.path.name
        return len(SLOW_FIRST) + (LONG_FIRST.index(name) if name in LONG_FIRST
                                  else len(LONG_FIRST))
    items.sort(key=rank)


ZONE = ZoneInfo("Asia/Shanghai")
# A Monday morning at the gate; codes are issued relative to it.
T0 = int(datetime(2026, 11, 23, 8, 0, tzinfo=ZONE).timestamp())
HOUR = 3600

# Valid 18-digit ID numbers (check digit correct); tests never print them.
ALICE_ID = "110101199003070011"
BOB_ID = "310104195812010025"
CHILD_ID = "110105201506010032"


def resident_ids(n: int) -> list[str]:
    """n made-up 18-digit ID numbers with correct check digits."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    out = []
    for i in range(n):
        body = f"1101011980{i + 1:07d}"
        out.append(body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11])
    return out


@pytest.fixture
def home(tmp_path) -> Home:
    return Home.at(tmp_path / "home")


@pytest.fixture
def compound(home) -> Compound:
    c = Compound.create(home, "测试小区", T0 - 30 * 24 * HOUR)
    return c


@pytest.fixture
def authority(home, compound) -> TestAuthority:
    a = TestAuthority.create(home)
    compound.trust(a.trusted_key(), T0 - 30 * 24 * HOUR)
    return a


@pytest.fixture
def no_env_home(monkeypatch):
    monkeypatch.delenv("GATEHOUSE_HOME", raising=False)
    return os.environ
