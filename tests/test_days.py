"""The compound's day (gatehouse/days.py): one definition for the kiosk's counters,
the admin page, the parcels' day codes and the daily report."""
from datetime import date
from zoneinfo import ZoneInfo

from gatehouse import days

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def test_a_minute_after_midnight_in_shanghai_is_the_new_day():
    at = 1764777660.0      # 2025-12-04 00:01 in Shanghai, still 12-03 in UTC
    assert days.local_day(at, SHANGHAI) == "2025-12-04"
    start = days.day_start(at, SHANGHAI)
    assert at - start == 60
    assert days.day_bounds(date(2025, 12, 4), SHANGHAI) == (start, start + 86400)


def test_a_day_with_a_clock_change_is_23_hours_long():
    start, end = days.day_bounds(date(2026, 3, 29), BERLIN)
    assert end - start == 23 * 3600
    assert days.day_start(end - 1, BERLIN) == start

