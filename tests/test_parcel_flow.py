"""The parcel path at the hub, step by step on a real SQLite file: the slot rule, pickup
codes, holds, notifications, pickups reported by kiosks, door runs, the audit sheet,
overdue parcels and returns (issue 7)."""
import json
import sqlite3
import time
import uuid

import pytest

from gatehouse import topics
from gatehouse.codes.kinds import VenueKind
from gatehouse.event_payloads import ParcelPayload
from gatehouse.events import Event, EventBatch, dump
from gatehouse.parcels import unseal_manifest
from gatehouse.policy.model import BuildingStatus
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.parcels import audit_sheet, handout, intake, runs, settings
from hub.parcels.manifest import build
from hub.parcels.shelving import Shelf, define_shelf
from hub.parcels.states import ParcelError, ParcelState
from hub.parcels.worker import tick
from tests.conftest import T0

S = ParcelState
MIN = 60


@pytest.fixture
def db(compound):
    d = compound.db
    define_shelf(d, Shelf("A", "1-2栋", 2, 3, False, ("1", "2")))
    define_shelf(d, Shelf("B", "公共", 2, 2, False, ()))
    define_shelf(d, Shelf("C", "冷柜", 1, 2, True, ()))
    return d


def drop(db, room="1-1-101", fresh=False, frozen=False, at=T0, waybill=None) -> dict:
    pid = uuid.uuid4().hex
    waybill = waybill or f"SF{uuid.uuid4().int % 10**13:013d}"
    intake.create(db, id=pid, waybill=waybill, room=room, at=at, actor="gate-a/赵*",
                  place="gate-a", fresh=fresh, frozen=frozen, gate="gate-a")
    return row(db, pid)


def row(db, pid) -> dict:
    return next(db.query("select * from parcels where id = ?", [pid]))


def test_slots_follow_the_building_then_the_open_shelf_and_frozen_only_go_cold(db):
    mine = [drop(db, "2-1-301") for _ in range(6)]
    assert [p["slot"] for p in mine] == ["A-1-01", "A-1-02", "A-1-03", "A-2-01", "A-2-02",
                                         "A-2-03"]
    overflow = drop(db, "1-1-101")
    assert overflow["slot"] == "B-1-01"             # shelf A full: the open shelf
    other = drop(db, "5-301")
    assert other["slot"].startswith("B-")           # building 5 never lands on A
    fresh = drop(db, "5-302", fresh=True)
    assert fresh["slot"] == "C-1-01"                # fresh prefers the cold shelf
    frozen = drop(db, "1-2-201", frozen=True)
    assert frozen["slot"] == "C-1-02"
    assert all(p["state"] == "holding" for p in (*mine, overflow, other, fresh, frozen))


def test_a_full_area_says_so_keeps_the_parcel_and_places_it_when_a_slot_frees(db):
    drop(db, frozen=True), drop(db, frozen=True)
    third = drop(db, "1-1-102", frozen=True)
    assert third["state"] == "received" and third["slot"] is None
    assert "冷柜已满" in third["waiting"]
    alert = next(db.query("select * from alerts where kind = 'parcel_area_full'"))
    assert "cold shelves full" in json.loads(alert["detail"])["message"]
    # A frozen parcel leaves the cold shelf: the waiting one gets its slot at the next pass.
    gone = next(db.query("select id from parcels where slot = 'C-1-01'"))["id"]
    db["parcels"].update(gone, {"state": "shelved"})
    handout.return_to_courier(db, gone, T0 + MIN, "v001", "客户拒收")
    assert tick(db, T0 + 2 * MIN)["placed"] == 1
    assert row(db, third["id"])["slot"] == "C-1-01"


def test_the_database_refuses_two_live_parcels_in_one_slot(db):
    a, b = drop(db), drop(db)
    with pytest.raises(sqlite3.IntegrityError):
        db["parcels"].update(b["id"], {"slot": a["slot"]})


def test_pickup_codes_are_shelf_tier_and_the_days_counter(db):
    first, second = drop(db, "1-1-101"), drop(db, "1-1-102")
    assert first["code"] == "A-1-1001" and second["code"] == "A-1-1002"
    next_day = drop(db, "1-1-103", at=T0 + 24 * 3600)
    # The counter starts again each day, stepping over codes still on the shelves.
    assert next_day["code"] == "A-1-1003"
    live = [r["code"] for r in db.query("select code from parcels")]
    assert len(live) == len(set(live))               # unique among parcels on the shelves


def test_holds_end_at_their_time_and_fresh_food_stands_shorter(db):
    settings.save(db, settings.ParcelSettings(hold_minutes=30, fresh_hold_minutes=10))
    plain, fresh = drop(db), drop(db, fresh=True)
    assert plain["hold_until"] == T0 + 30 * MIN and fresh["hold_until"] == T0 + 10 * MIN
    assert tick(db, T0 + 9 * MIN)["released"] == 0
    assert tick(db, T0 + 10 * MIN)["released"] == 1
    assert row(db, fresh["id"])["state"] == "shelved"
    tick(db, T0 + 31 * MIN)
    ev = next(db.query("select * from parcel_events where parcel = ? and state_to = 'shelved'",
                       [plain["id"]]))
    assert ev["at"] == T0 + 30 * MIN                 # released at the hold's end, not later


def test_a_household_hears_once_for_its_parcels_with_every_code(db):
    db["residents"].insert({"building": "1", "unit": "1", "room": "101",
                            "household": "1-1-101", "name": "张*", "phone": "13800000001"})
    p1, p2 = drop(db), drop(db, fresh=True)
    tick(db, T0 + 31 * MIN)
    notes = list(db.query("select * from notifications where household = '1-1-101'"))
    assert len(notes) == 1 and notes[0]["recipient"] == "13800000001"
    assert p1["code"] in notes[0]["body"] and p2["code"] in notes[0]["body"]


def test_an_unknown_room_waits_without_a_slot_until_the_office_names_it(db):
    db["residents"].insert({"building": "1", "unit": "1", "room": "101",
                            "household": "1-1-101", "name": "张*", "phone": "1"})
    odd = drop(db, "9-9-999")
    assert odd["state"] == "unknown_recipient" and odd["slot"] is None
    with pytest.raises(ParcelError, match="查无此户"):
        intake.set_room(db, odd["id"], "8-1-1", T0 + MIN, "office")
    intake.set_room(db, odd["id"], "1-1-101", T0 + MIN, "office")
    assert row(db, odd["id"])["state"] == "holding" and row(db, odd["id"])["slot"]


def _pickup(compound, gate, payload, at):
    db = compound.db
    if not db["gates"].count_where("id = ?", [gate]):
        db["gates"].insert({"id": gate, "name": gate, "role": "parcels"})
    e = Event(seq=db["gate_events"].count_where("gate = ?", [gate]) + 1, id=uuid.uuid4().hex,
              kind="pickup", at=at, payload=payload)
    ingest(db, [Incoming(topics.gate_events(gate),
                         dump(EventBatch(gate=gate, sent_at=at, events=[e])), at)],
           compound.build_bundle(1, T0).policy, event_handlers())


def test_pickups_from_the_kiosk_end_the_parcel_and_misfits_raise_alerts(compound, db):
    p, q = drop(db), drop(db)
    tick(db, T0 + 31 * MIN)
    _pickup(compound, "parcels-1", {"parcel": p["id"], "waybill": p["waybill"],
                                    "outcome": "taken", "via": "pass"}, T0 + 40 * MIN)
    assert row(db, p["id"])["state"] == "picked_up"
    _pickup(compound, "parcels-1", {"parcel": q["id"], "waybill": q["waybill"],
                                    "outcome": "wrong", "why": "other_household"},
            T0 + 41 * MIN)
    assert row(db, q["id"])["state"] == "shelved"    # flagged, still on the shelf
    kinds = {r["kind"] for r in db.query("select kind from alerts")}
    assert "parcel_wrong_pickup" in kinds
    early = drop(db, at=T0 + 50 * MIN)
    _pickup(compound, "parcels-1", {"parcel": early["id"], "waybill": early["waybill"],
                                    "outcome": "taken"}, T0 + 55 * MIN)
    assert row(db, early["id"])["state"] == "picked_up"
    assert "parcel_early_release" in {r["kind"] for r in db.query("select kind from alerts")}


def test_door_runs_fresh_first_by_room_venue_code_then_each_parcel(compound, db):
    compound.set_building("1", BuildingStatus.SEALED, T0 - 3600)
    late = drop(db, "1-2-1201")
    early = drop(db, "1-2-301")
    fresh = drop(db, "1-3-101", fresh=True)
    other = drop(db, "2-1-101")
    tick(db, T0 + 31 * MIN)
    assert [b["building"] for b in runs.buildings_due(db, T0 + 31 * MIN)] == ["1"]
    run = runs.make_sheet(db, "1", T0 + 2 * 3600, "v001")   # 10:00 local: the first run
    assert run.endswith("-1-1")
    lines = runs.sheet(db, run)
    assert [r["id"] for r in lines] == [fresh["id"], early["id"], late["id"]]
    trust = compound.bundle_trust()
    wrong_venue = compound.issue_venue("b2", VenueKind.BUILDING, T0)
    with pytest.raises(ParcelError, match="先扫楼栋场所码"):
        runs.deliver(db, run, early["waybill"], T0 + 2 * 3600, "v001")
    with pytest.raises(ParcelError, match="本趟送1栋"):
        runs.start_delivery(db, run, wrong_venue, trust, T0 + 2 * 3600, "v001")
    runs.start_delivery(db, run, compound.issue_venue("b1", VenueKind.BUILDING, T0), trust,
                        T0 + 2 * 3600, "v001")
    runs.deliver(db, run, fresh["waybill"], T0 + 2 * 3600 + 60, "v001")
    with pytest.raises(ParcelError, match="不在本趟"):
        runs.deliver(db, run, other["waybill"], T0 + 2 * 3600 + 90, "v001")
    runs.deliver(db, run, early["code"], T0 + 2 * 3600 + 120, "v001")  # the code works too
    assert runs.close_run(db, run, T0 + 3 * 3600, "v001") == 1
    assert row(db, late["id"])["state"] == "shelved"   # back in its slot for the next run
    assert row(db, fresh["id"])["state"] == "delivered"


def test_the_audit_sheet_lists_slots_and_marks_parcels_not_found(db):
    a, b, c = drop(db), drop(db), drop(db)
    sheet = audit_sheet.open_sheet(db, T0 + MIN, "v002")
    assert [ln["slot"] for ln in audit_sheet.lines(db, sheet)] == [a["slot"], b["slot"],
                                                                   c["slot"]]
    assert audit_sheet.record(db, sheet, a["slot"], a["waybill"], T0 + 2 * MIN, "v002") == "ok"
    assert audit_sheet.record(db, sheet, b["slot"], "", T0 + 2 * MIN, "v002") == "missing"
    assert audit_sheet.record(db, sheet, "B-2-02", "YT1234567890123", T0, "v002") == "extra"
    counts = audit_sheet.close_sheet(db, sheet, T0 + 3 * MIN, "v002")
    assert counts == {"ok": 1, "missing": 1, "unchecked": 1, "extra": 1}
    assert row(db, b["id"])["state"] == "misshelved"
    intake.reshelve(db, b["id"], T0 + 4 * MIN, "v002")   # found again, hold not over
    assert row(db, b["id"])["state"] == "holding"


def test_overdue_parcels_are_flagged_once_and_can_go_back_to_the_courier(db):
    old = drop(db)
    tick(db, T0 + 31 * MIN)
    assert tick(db, T0 + 2 * 86400)["overdue"] == 0
    assert tick(db, T0 + 3 * 86400)["overdue"] == 1
    assert tick(db, T0 + 3 * 86400 + 60)["overdue"] == 0
    handout.return_to_courier(db, old["id"], T0 + 3 * 86400 + 120, "v001", "逾期退回")
    assert row(db, old["id"])["state"] == "returned"
    with pytest.raises(ParcelError, match="已退回"):
        handout.return_to_courier(db, old["id"], T0 + 3 * 86400 + 180, "v001")


def test_the_manifest_lists_what_is_on_the_shelves_signed_by_the_hub(compound, db):
    p, gone = drop(db), drop(db)
    db["parcels"].update(gone["id"], {"state": "picked_up"})
    m = build(db, time.time())
    assert [x.waybill for x in m.parcels] == [p["waybill"]]
    from gatehouse.parcels import seal_manifest
    blob = seal_manifest(m, compound.key)
    back = unseal_manifest(blob, compound.hub_trusted_key())
    assert back.parcels[0].slot == p["slot"] and back.parcels[0].hold_until == p["hold_until"]


def test_refusals_the_volunteers_would_otherwise_trip_on(compound, db):
    p = drop(db)
    with pytest.raises(ParcelError, match="只有破损或放错位置"):
        intake.reshelve(db, p["id"], T0 + MIN, "v001")      # still standing its hold
    tick(db, T0 + 31 * MIN)
    with pytest.raises(ParcelError, match="没有封控"):
        runs.make_sheet(db, "1", T0 + 2 * 3600, "v001")    # building 1 picks up itself
    compound.set_building("1", BuildingStatus.SEALED, T0 + 3600)
    run = runs.make_sheet(db, "1", T0 + 2 * 3600, "v001")
    runs.close_run(db, run, T0 + 3 * 3600, "v001")
    with pytest.raises(ParcelError, match="本趟已结束"):
        runs.close_run(db, run, T0 + 3 * 3600, "v001")
    sheet = audit_sheet.open_sheet(db, T0 + 4 * 3600, "v002")
    audit_sheet.close_sheet(db, sheet, T0 + 4 * 3600, "v002")
    with pytest.raises(ParcelError, match="盘点表已结束"):
        audit_sheet.record(db, sheet, p["slot"], p["waybill"], T0 + 4 * 3600, "v002")


def test_a_named_recipient_waits_for_a_slot_when_the_area_is_full(db):
    db["residents"].insert({"building": "5", "unit": "", "room": "301", "household": "5-301",
                            "name": "张*", "phone": "1"})
    for _ in range(4):
        drop(db, "5-301")                                    # shelf B (open) is now full
    odd = drop(db, "9-999")
    assert intake.set_room(db, odd["id"], "5-301", T0 + MIN, "office") is S.UNKNOWN_RECIPIENT
    assert row(db, odd["id"])["household"] == "5-301" and row(db, odd["id"])["waiting"]
    gone = next(db.query("select id from parcels where slot = 'B-1-01'"))["id"]
    db["parcels"].update(gone, {"state": "shelved"})
    handout.return_to_courier(db, gone, T0 + 2 * MIN, "v001")
    assert tick(db, T0 + 3 * MIN)["placed"] == 1
    assert row(db, odd["id"])["state"] == "holding" and row(db, odd["id"])["slot"] == "B-1-01"


def test_retention_forgets_finished_parcels_but_never_one_on_a_shelf(db):
    from hub import retention
    done, waiting = drop(db), drop(db)
    tick(db, T0 + 31 * MIN)
    handout.return_to_courier(db, done["id"], T0 + 40 * MIN, "v001")
    counts = retention.purge(db, T0 + 40 * 86400, 28)
    assert counts["parcels"] == 1
    assert [r["id"] for r in db.query("select id from parcels")] == [waiting["id"]]
    assert not db["parcel_events"].count_where("parcel = ?", [done["id"]])


def test_fresh_food_leaves_the_last_cold_slots_to_frozen_food(db):
    define_shelf(db, Shelf("C", "冷柜", 2, 4, True, ()))      # 8 cold slots, 2 kept
    fresh = [drop(db, fresh=True) for _ in range(8)]
    assert [p["slot"][0] for p in fresh] == ["C"] * 6 + ["A"] * 2
    frozen = [drop(db, frozen=True) for _ in range(2)]
    assert all(p["slot"].startswith("C-") for p in frozen)


def test_guessed_pickup_codes_reach_the_office_as_an_alert(compound, db):
    _pickup(compound, "parcels-1", {"outcome": "codes_paused", "paused_until": T0 + 60,
                                    "wrong_codes": 5}, T0)
    alert = next(db.query("select * from alerts where kind = 'pickup_codes_paused'"))
    assert alert["gate"] == "parcels-1" and json.loads(alert["detail"])["wrong_codes"] == 5


def test_only_a_parcel_kiosk_hands_parcels_out_and_only_to_their_household(compound, db):
    p = drop(db, "1-1-101")
    tick(db, T0 + 31 * MIN)
    db["gates"].insert({"id": "gate-n", "name": "北门", "role": "gate"})
    _pickup(compound, "gate-n", {"parcel": p["id"], "waybill": p["waybill"],
                                 "outcome": "taken"}, T0 + 40 * MIN)
    assert row(db, p["id"])["state"] == "shelved"
    _pickup(compound, "parcels-1", {"parcel": p["id"], "waybill": p["waybill"],
                                    "household": "2-2-202", "outcome": "taken"},
            T0 + 41 * MIN)
    assert row(db, p["id"])["state"] == "shelved"
    kinds = {r["kind"] for r in db.query("select kind from alerts")}
    assert {"pickup_from_other_gate", "parcel_pickup_conflict"} <= kinds


def test_undone_and_scanned_again_is_one_live_parcel(compound, db):
    first = drop(db, "1-1-109", waybill="SF5555555555555")
    db["gates"].insert({"id": "gate-a", "name": "a", "role": "gate"})
    assert intake.void(db, first["id"], "gate-a", T0 + 5, "gate-a/v1")
    assert intake.receive(db, "gate-a", ParcelPayload(id=uuid.uuid4().hex,
                                                      waybill="SF5555555555555",
                                                      room="1-1-101"), T0 + 10)
    rows = list(db.query("select state, waybill, household from parcels order by received_at"))
    assert [r["state"] for r in rows] == ["voided", "holding"]
    assert rows[1]["waybill"] == "SF5555555555555" and rows[1]["household"] == "1-1-101"


def test_a_shelved_parcel_cannot_be_undone_by_its_gate(db):
    p = drop(db)
    tick(db, T0 + 31 * MIN)
    assert not intake.void(db, p["id"], "gate-a", T0 + 40 * MIN, "gate-a/v1")
    assert row(db, p["id"])["state"] == "shelved"


def test_a_parcel_from_a_gate_with_an_unsure_clock_stands_its_hold_from_arrival(db):
    pid = uuid.uuid4().hex
    intake.receive(db, "gate-a", ParcelPayload(id=pid, waybill="SF6666666666666",
                                               room="1-1-101", clock_trusted=False),
                   T0 - 5 * 3600, placed_at=T0)
    assert row(db, pid)["hold_until"] == T0 + 30 * MIN


def test_a_reshelved_parcel_still_in_its_hold_goes_back_to_holding(db):
    p = drop(db)
    handout.mark(db, p["id"], S.DAMAGED, T0 + MIN, "v001", "箱子破了")
    intake.reshelve(db, p["id"], T0 + 2 * MIN, "v001")
    assert row(db, p["id"])["state"] == "holding"
    tick(db, T0 + 31 * MIN)
    assert row(db, p["id"])["state"] == "shelved"


def test_a_pickup_code_is_not_given_again_for_a_week(db):
    first = drop(db, "1-1-101")
    tick(db, T0 + 31 * MIN)
    handout.return_to_courier(db, first["id"], T0 + 40 * MIN, "v001")   # off the shelf
    next_day = drop(db, "1-1-102", at=T0 + 86400)
    assert next_day["slot"] == first["slot"]                  # the same slot again...
    assert next_day["code"] != first["code"]                  # ...but not the same code
    week_later = drop(db, "1-1-103", at=T0 + 8 * 86400)
    assert week_later["code"] == first["code"]                # a week on, it may return


def test_when_a_sealed_building_opens_its_households_get_their_pickup_codes(compound, db):
    db["residents"].insert({"building": "1", "unit": "1", "room": "101",
                            "household": "1-1-101", "name": "张*", "phone": "13800000001"})
    compound.set_building("1", BuildingStatus.SEALED, T0 - 3600)
    p = drop(db)
    tick(db, T0 + 31 * MIN)
    told = [r["body"] for r in db.query("select body from notifications")]
    assert len(told) == 1 and p["code"] not in told[0]          # "to your door"
    compound.set_building("1", BuildingStatus.NORMAL, T0 + 3600)
    tick(db, T0 + 3602)       # the parcel timers follow the office's change
    told = [r["body"] for r in db.query("select body from notifications")]
    assert any(p["code"] in b for b in told)
    tick(db, T0 + 3604)
    assert [r["body"] for r in db.query("select body from notifications")] == told  # once


def test_a_room_keyed_without_its_unit_or_with_zeros_finds_its_household(db):
    db["residents"].insert_all([
        {"building": "7", "unit": "2", "room": "301", "household": "7-2-301", "name": "张*"},
        {"building": "7", "unit": "1", "room": "502", "household": "7-1-502", "name": "李*"},
        {"building": "7", "unit": "2", "room": "502", "household": "7-2-502", "name": "王*"}])
    assert drop(db, "7-301")["household"] == "7-2-301"
    assert drop(db, "07-02-0301")["household"] == "7-2-301"
    assert drop(db, "7栋2单元301")["household"] == "7-2-301"
    assert drop(db, "7-502")["state"] == "unknown_recipient"     # two 502s: ask
