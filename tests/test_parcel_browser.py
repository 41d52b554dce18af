"""One parcel path in a real browser, across real processes: a volunteer records a
courier's drop-off on the gate's screen, the hub slots the parcels and ends their hold,
a resident's pickup code at the parcel-area kiosk names the slots and the volunteer's
scans hand them out, and the office's run sheet takes a sealed building's parcel to
its door (issue 7)."""
from __future__ import annotations

import dataclasses
import sqlite3
import time

from playwright.sync_api import expect

from demo.scenes import phone_frame, write_frames
from gatehouse.codes.kinds import VenueKind
from gatehouse.home import Home
from gatehouse.policy import BuildingStatus
from gatehouse.webserver import ThreadedServer
from hub import users
from hub.gates import add_gate
from hub.parcels import settings
from hub.parcels.shelving import Shelf, define_shelf
from hub.web import WebConfig, create_app
from tests.processes import free_port, hub_process, kiosk_process, wait_until

PIN, PASSWORD = "2468", "lead-password-1"
MINE = ("SF1234567890123", "YT7712345678901")       # for 2-1-101, who picks up
SEALED = "JT1234567890123"                           # for 1-1-201, in a sealed building


def sign_in(page, vid: str) -> None:
    page.click("#b-signin")
    page.click(f"[data-volunteer='{vid}']")
    for digit in PIN:
        page.click(f"#o-body [data-key='{digit}']")
    page.click("#o-body [data-key='OK']")
    page.wait_for_selector("#s-volunteer.ok", timeout=15000)


def key_waybill(page, waybill: str) -> None:
    page.click("#b-waybill")
    page.fill("#wb-input", waybill)
    page.click("#wb-ok")
    page.wait_for_selector("#overlay", state="hidden", timeout=15000)


def test_drop_off_pickup_and_a_run_sheet_in_the_browser(compound, broker_proc, browser,
                                                        tmp_path):
    db = compound.db
    now = int(time.time())
    define_shelf(db, Shelf("A", "2栋", 2, 5, False, ("2",)))
    define_shelf(db, Shelf("B", "1栋", 2, 5, False, ("1",)))
    settings.save(db, settings.ParcelSettings(hold_minutes=0.05, fresh_hold_minutes=0.05))
    compound.set_building("1", BuildingStatus.SEALED, now - 60)
    vid = compound.add_volunteer("王阿姨", PIN, now)
    badge = compound.issue_courier("赵六", "顺丰速运", now - 3600)
    venue = compound.issue_venue("b1", VenueKind.BUILDING, now - 60)
    users.add_user(db, "lead", PASSWORD, "lead", now)
    procs, ports = [hub_process(compound.home, tmp_path / "hub.log").start()], {}
    cameras = {"gate-n": write_frames(tmp_path / "badge", [phone_frame(None)] * 10 +
                                      [phone_frame(badge)] * 20 + [phone_frame(None)] * 5),
               "parcels-1": write_frames(tmp_path / "idle", [phone_frame(None)] * 5)}
    for gate, role in (("gate-n", "gate"), ("parcels-1", "parcels")):
        home = Home.at(tmp_path / f"kiosk-{gate}")
        add_gate(compound, gate, kiosk_home=home, role=role)
        ports[gate] = free_port()
        procs.append(kiosk_process(home, f"file:{cameras[gate]}?fps=15", tmp_path / f"{gate}.log",
                                   gate_id=gate, web_port=ports[gate], role=role).start())
    office = ThreadedServer(create_app(dataclasses.replace(WebConfig.from_env(
        compound.home), secret_key=b"k" * 32)))
    hub = sqlite3.connect(compound.home.hub_db, timeout=10)

    def state(waybill):
        row = hub.execute("select state from parcels where waybill = ?", [waybill]).fetchone()
        return row[0] if row else None
    slow = 15000   # ms: expectations wait this long under a loaded CI machine
    screen = browser.new_context(viewport={"width": 800, "height": 480}, locale="zh-CN")
    try:
        # The gate: the courier's badge opens a drop-off; the volunteer keys the rooms.
        page = screen.new_page()
        page.set_default_timeout(15000)   # four processes and a browser on two cores
        wait_until(lambda: _up(ports["gate-n"]), 30, 0.3, "the gate's screen")
        page.goto(f"http://127.0.0.1:{ports['gate-n']}/")
        page.wait_for_selector("body[data-mode='courier']", timeout=20000)
        sign_in(page, vid)
        for key in "2-1-101":
            page.click(f"#c-keys [data-key='{key}']")
        expect(page.locator("#c-room")).to_have_text("2-1-101", timeout=slow)
        for w in MINE:
            key_waybill(page, w)
        for _ in "2-1-101":
            page.click("#c-keys [data-key='⌫']")
        for key in "1-1-201":
            page.click(f"#c-keys [data-key='{key}']")
        key_waybill(page, SEALED)
        expect(page.locator("#c-count")).to_have_text("3", timeout=slow)
        expect(page.locator("#c-list")).to_contain_text(SEALED, timeout=slow)
        page.click("#c-end")
        # The hub slots them and ends their hold (3 s here, 30 min by default).
        wait_until(lambda: all(state(w) == "shelved" for w in (*MINE, SEALED)), 30, 0.3,
                   "the parcels on their shelves")
        code = hub.execute("select code from parcels where waybill = ?", [MINE[0]]).fetchone()[0]
        slots = {r[0] for r in hub.execute("select slot from parcels where household = '2-1-101'")}

        # The parcel area: the resident keys the code from the message; the volunteer scans.
        wait_until(lambda: _up(ports["parcels-1"]), 30, 0.3, "the parcel kiosk's screen")
        page.goto(f"http://127.0.0.1:{ports['parcels-1']}/")
        page.wait_for_selector("body[data-mode='pickup']", timeout=15000)

        def key_code() -> bool:
            for key in code:
                page.click(f"#pickup [data-key='{key}']")
            page.click("#pickup [data-key='OK']")
            try:
                page.wait_for_selector("#pk-list li.pk-ready", timeout=5000)
                return True
            except Exception:   # the kiosk's manifest is a moment behind the hub
                page.click("#pickup [data-key='C']")
                return False
        wait_until(key_code, 45, 0.5, "the pickup to open")
        expect(page.locator("#pk-list li.pk-ready")).to_have_count(2, timeout=slow)
        assert set(page.locator("#pk-list li.pk-ready .pk-slot").all_inner_texts()) == slots
        sign_in(page, vid)
        for w in MINE:
            key_waybill(page, w)
        expect(page.locator("#pk-list li.pk-taken")).to_have_count(2, timeout=slow)
        page.click("#pk-done")
        wait_until(lambda: all(state(w) == "picked_up" for w in MINE), 20, 0.3,
                   "the pickups at the hub")

        # The office: building 1's run sheet; the volunteer's scanner gun at the door.
        desk = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
        office_page = desk.new_page()
        office_page.set_default_timeout(slow)
        office_page.goto(f"http://localhost:{office.port}/parcels/runs")
        office_page.fill("input[name=username]", "lead")
        office_page.fill("input[name=password]", PASSWORD)
        office_page.click("button.primary")
        office_page.click('#due tr[data-building="1"] button')
        expect(office_page.locator("#run-lines tbody tr")).to_have_count(1, timeout=slow)
        for text in (venue, SEALED):
            office_page.keyboard.type(text)
            office_page.keyboard.press("Enter")
        expect(office_page.locator("#scan-log li.ok")).to_have_count(2, timeout=slow)
        expect(office_page.locator("#delivered")).to_have_text("1", timeout=slow)
        desk.close()
        assert state(SEALED) == "delivered"
    finally:
        screen.close()
        hub.close()
        office.close()
        for p in procs[::-1]:
            p.stop()


def _up(port: int) -> bool:
    import urllib.request
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
        return True
    except OSError:
        return False
