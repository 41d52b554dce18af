"""The demo's parcel area: residents on file, shelves, short holds, a notification file,
the morning's parcels so far and a group purchase, as the hub would have them by now.

`stock` replays the morning through the hub's own functions (hub.parcels.intake,
groupbuy, the timers of hub.parcels.worker) at the times things happened, so holds end,
codes are given and residents are told exactly as `hub serve` would have done; the
last few parcels are still standing their hold when the demo starts, and `hub serve`
releases them while it runs. Courier drop-offs during the demo come from the north
gate's camera (demo.scenario).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from gatehouse.parcels import carrier_of
from hub import notify, residents
from hub.compound import Compound
from hub.parcels import groupbuy, settings, shelving
from hub.parcels.intake import create
from hub.parcels.worker import tick

MIN, DAY = 60.0, 86400.0
# Short holds, so the demo shows parcels standing and then released (real: 30 and 15).
HOLD_MINUTES, FRESH_HOLD_MINUTES = 2.0, 1.0
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str) -> str:
    """A made-up ID number with a valid check digit (GB 11643)."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    return first17 + "10X98765432"[total % 11]


# building, unit, room, name, phone (none: told nothing, listed as skipped), ID number.
# The first four are the people of the gates' morning (demo.scenario).
RESIDENTS = [
    ("7", "", "302", "张三丰", "13900001302", "110101199003070011"),
    ("7", "", "302", "张小宝", "", "110105201506010032"),
    ("12", "", "1101", "李四", "", "310104195812010025"),
    ("3", "", "501", "王五", "13900003501", "110101198001010029"),
    ("7", "", "101", "赵敏", "13900007101", id_number("11010119750312002")),
    ("7", "", "502", "钱进", "13900007502", id_number("11010119881105003")),
    ("12", "", "201", "孙芳", "13900012201", id_number("11010119920718004")),
    ("3", "", "201", "周平", "13900003201", id_number("11010119660903005")),
    ("5", "", "301", "吴静", "13900005301", id_number("11010119850222006")),
]

SHELVES = [
    shelving.Shelf("A", "A 7栋", 3, 6, False, ("7",), 1),
    shelving.Shelf("B", "B 3栋 12栋", 3, 6, False, ("3", "12"), 2),
    shelving.Shelf("C", "C 冷柜", 2, 4, True, (), 3),
    shelving.Shelf("D", "D 公用", 3, 8, False, (), 4),
]

# household ("": no room keyed), waybill, received this long ago (s), fresh, frozen
PARCELS = [
    ("12-201", "JT3012345678901", 3 * DAY + 2 * 3600, False, False),  # overdue by now
    ("7-101", "SF1402338767000", 50 * MIN, False, False),             # ready
    ("", "YT7712345690001", 35 * MIN, False, False),                  # no room: unknown
    ("7-302", "SF1402338765012", 42 * MIN, False, False),             # ready
    ("12-1101", "YT7712345678901", 30 * MIN, False, False),           # ready, no phone
    ("3-501", "75123456789012", 25 * MIN, False, False),              # ready
    ("3-201", "SF1402338765999", 20 * MIN, False, True),              # frozen: cold shelf
    ("12-201", "EA123456789CN", 12 * MIN, False, False),
    ("5-301", "4312345678901", 4 * MIN, False, False),                # open shelf D
    # Still standing their hold when the demo starts: the board counts them down.
    ("7-502", "SF1402338766111", 90, False, False),
    ("12-1101", "DPK1234567890", 60, False, False),
    ("3-501", "JDX000512345678", 20, True, False),                    # fresh: shorter hold
    ("7-302", "JDX000123456789", 15, False, False),                   # 张三丰's second
]

JIELONG = """#接龙
蔬菜包团购🥬 每份58元，今天上午到
例 1-1-101 张三 蔬菜包×1

1. 7-302 张三丰 蔬菜包×2
2. 7-502 钱进 +1 13900007502
3. 12-201 孙芳 2份（放门口）
4. 3栋201 周平 蔬菜包1份 鸡蛋1盒
5. 5-301 吴静 ×1 已付
"""
GROUPBUY_AGO = 15 * MIN


@dataclass
class ParcelArea:
    notifications: Path          # where the file sender writes what residents are told
    sample_code: str             # a ready pickup code for the banner (张三丰's household)
    sample_household: str
    batch: str


def stock(c: Compound, root: Path, now: float,
          holds: tuple[float, float] = (HOLD_MINUTES, FRESH_HOLD_MINUTES)) -> ParcelArea:
    """Residents, shelves, settings (holds: minutes, fresh minutes), the notification
    file and the morning's parcels."""
    db = c.db
    csv = "building,unit,room,name,phone,id_number\n" + "".join(
        ",".join(r) + "\n" for r in RESIDENTS)
    parsed = residents.parse_csv(csv, c.binding_key)
    residents.import_rows(c, parsed, int(now - 60 * DAY))
    for shelf in SHELVES:
        shelving.define_shelf(db, shelf)
    settings.save(db, settings.ParcelSettings(hold_minutes=holds[0],
                                               fresh_hold_minutes=holds[1]))
    sent = root / "notifications.jsonl"
    notify.save_config(c.home, notify.NotifyConfig(notify.Channel.FILE, path=str(sent)))

    orders = groupbuy.parse(JIELONG.encode(), "", {r[0] + "-" + r[2] for r in RESIDENTS})
    if not orders.ok:
        raise RuntimeError(f"the demo's 接龙 does not read: {orders.errors}")
    steps = [(now - ago, "parcel", (hh, waybill, fresh, frozen))
             for hh, waybill, ago, fresh, frozen in PARCELS]
    steps.append((now - GROUPBUY_AGO, "groupbuy", orders))
    batch = ""
    for at, kind, what in sorted(steps, key=lambda s: s[0]):
        tick(db, at)  # what hub serve's timers did up to then
        if kind == "parcel":
            hh, waybill, fresh, frozen = what
            carrier, name = carrier_of(waybill) or (None, None)
            create(db, id=uuid.uuid4().hex, waybill=waybill, room=hh, at=at, actor="demo",
                   place="gate-north", fresh=fresh, frozen=frozen, carrier=carrier,
                   carrier_name=name)
        else:
            batch = groupbuy.import_batch(db, title="蔬菜包团购", leader="刘团长",
                                          orders=what.orders, at=at, actor="admin",
                                          fresh=True, source=what.source)
    tick(db, now)
    code = next(db.query("select code from parcels where household = '7-302' and state = "
                         "'shelved' and batch is null order by received_at limit 1"))["code"]
    return ParcelArea(sent, code, "7-302", batch)
