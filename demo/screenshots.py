"""Screenshots of the volunteer screen and the office page, for docs/screens/.

Run: .venv/bin/python -m demo.screenshots [OUTDIR]   (Debian's Chromium + Playwright)
A compound in a temporary folder with the demo's parcel area (demo.parcels, real holds
of 30 and 15 minutes). First a gate kiosk on mock pins with a file camera playing a
resident (admit), a yellow code (refer) and a courier with parcels; then the parcel
area's kiosk (role "parcels", the hub's signed shelf manifest) where a resident shows
their pass (one parcel ready, one standing its hold) and then someone else's parcel;
then the office's parcel pages: the shelf board, a door-run sheet with one parcel
delivered, and a group purchase's pick list.
"""
from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from demo.parcels import stock
from demo.scenes import label_frame, phone_frame, write_frames
from gatehouse.codes.kinds import Colour, VenueKind
from gatehouse.home import Home, write_atomic
from gatehouse.parcels import seal_manifest
from gatehouse.policy import BuildingStatus
from gatehouse.webserver import ThreadedServer
from hub import users
from hub.authority import TestAuthority
from hub.compound import Compound
from hub.parcels import manifest, runs
from hub.web import WebConfig, create_app
from kiosk import runner
from kiosk.config import KioskConfig

SIZES = {"800x480": (800, 480), "1280x800": (1280, 800)}
ADMIN_SIZE = (1280, 860)    # the viewport; the parcel pages are taken whole
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FPS = 15
ZHANG, LI = "110101199003070011", "310104195812010025"


def _blank(seconds: float) -> list:
    return [phone_frame(None)] * int(seconds * FPS)


def _show(text: str, seconds: float = 1.0) -> list:
    return [phone_frame(text)] * int(seconds * FPS) + _blank(0.6)


def _gate_frames(c: Compound, a: TestAuthority, now: int) -> list:
    frames = _blank(3)
    frames += _show(c.issue_pass(ZHANG, "张三丰", "7", "302", now - 86400))
    frames += _show(a.health(ZHANG, Colour.GREEN, now - 3600, now - 20 * 3600))
    frames += _blank(10)
    frames += _show(c.issue_pass(LI, "李四", "12", "1101", now - 86400))
    frames += _show(a.health(LI, Colour.YELLOW, now - 3600, now - 20 * 3600))
    frames += _blank(10)
    frames += _show(c.issue_courier("赵六", "顺丰速运", now - 86400))
    for w in ("SF1234567890123", "YT7712345678901", "75123456789012"):
        frames += [label_frame(w)] * 10 + [phone_frame(None)] * 6
    return frames + _blank(40)


def _pickup_frames(c: Compound, now: int, wrong_waybill: str) -> list:
    """张三丰 shows his pass; a while later, holds up a parcel of another household."""
    frames = _blank(3) + _show(c.issue_pass(ZHANG, "张三丰", "7", "302", now - 86400))
    frames += _blank(8) + [label_frame(wrong_waybill)] * 15
    return frames + _blank(60)


def _kiosk(home: Home, config: KioskConfig):
    """`kiosk run` in a thread; (url, stop)."""
    box: dict = {}
    stop = threading.Event()
    t = threading.Thread(target=runner.run, args=(home, config, stop),
                         kwargs={"started": lambda g, s: box.update(url=s.url)}, daemon=True)
    t.start()
    while "url" not in box:
        time.sleep(0.1)
    return box["url"], lambda: (stop.set(), t.join(10))


def _shoot_kiosk(browser, url: str, out: Path, wanted: dict[str, str],
                 timeout: float = 90) -> set:
    """Watch the screen at each size; take `name` once the page's JS predicate holds."""
    pages = {size: browser.new_context(viewport={"width": w, "height": h},
                                       locale="zh-CN").new_page()
             for size, (w, h) in SIZES.items()}
    for page in pages.values():
        page.goto(url)
    taken: set = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(taken) < len(wanted) * len(SIZES):
        for size, page in pages.items():
            for name, predicate in wanted.items():
                if (name, size) not in taken and page.evaluate(predicate):
                    time.sleep(0.3)
                    page.screenshot(path=str(out / f"kiosk-{name}-{size}.png"))
                    taken.add((name, size))
        time.sleep(0.1)
    for page in pages.values():
        page.context.close()
    return taken


GATE_SHOTS = {
    "ready": "document.body.dataset.mode === 'ready' && document.body.className === ''",
    "admit": "document.body.dataset.mode === 'result' && document.body.className === 'admit'",
    "refer": "document.body.dataset.mode === 'result' && document.body.className === 'refer'",
    "courier": "document.body.dataset.mode === 'courier' && "
               "document.getElementById('c-count').innerText === '3'",
}
PICKUP_SHOTS = {
    "pickup": "!document.getElementById('pk-open').hidden && "
              "!!document.querySelector('#pk-list li.pk-ready') && "
              "!!document.querySelector('#pk-list li.pk-held') && "
              "document.getElementById('pk-flash').hidden",
    "pickup-wrong": "document.body.classList.contains('pk-wrong')",
}


def _admin_shots(browser, c: Compound, batch: str, now: int, out: Path) -> set:
    """The office's parcel pages, served by waitress as `hub web` does."""
    # Building 7 sealed: its parcels go to the door. One run sheet, one parcel delivered.
    c.set_building("7", BuildingStatus.SEALED, now, "screenshots")
    run = runs.make_sheet(c.db, "7", now, "admin")
    runs.start_delivery(c.db, run, c.issue_venue("b7", VenueKind.BUILDING, now),
                        c.bundle_trust(), now, "admin")
    runs.deliver(c.db, run, runs.sheet(c.db, run)[0]["waybill"], now + 60, "admin")
    password = secrets.token_urlsafe(12)
    users.add_user(c.db, "admin", password, users.Role.ADMIN, now)
    server = ThreadedServer(create_app(WebConfig(home=c.home)))
    base = f"http://localhost:{server.port}"
    taken = set()
    try:
        w, h = ADMIN_SIZE
        page = browser.new_context(viewport={"width": w, "height": h},
                                   locale="zh-CN").new_page()
        page.goto(base + "/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.click("button.primary")
        page.wait_for_selector("[data-test=whoami]")
        for name, path in (("parcels-board", "/parcels/"),
                           ("parcels-run", f"/parcels/runs/{run}"),
                           ("groupbuy", f"/groupbuy/{batch}")):
            page.goto(base + path)
            time.sleep(1.2)  # the board's countdowns tick from the server's clock
            # The whole page, 1280 wide: the board's shelves, every line of the lists.
            page.screenshot(path=str(out / f"admin-{name}-{w}.png"), full_page=True)
            taken.add((name, f"{w}"))
        page.context.close()
    finally:
        server.close()
    return taken


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="gatehouse-shots-"))
    home = Home.at(root / "home")
    now = int(time.time())
    c = Compound.create(home, "示范小区", now - 86400)
    a = TestAuthority.create(home)
    c.trust(a.trusted_key(), now)
    c.add_volunteer("王阿姨", "2468", now, "lead")
    area = stock(c, root, now, holds=(30, 15))
    common = {"pin_factory": "mock", "clock": "trusted", "web_port": 0, "result_seconds": 8,
              "referral_timeout_s": 8}
    taken: set = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        # The gate.
        folder = write_frames(root / "camera-gate", _gate_frames(c, a, now))
        url, stop = _kiosk(home, KioskConfig(camera=f"file:{folder}?fps={FPS}",
                                             gate_id="gate-north", **common))
        taken |= _shoot_kiosk(browser, url, out, GATE_SHOTS)
        stop()
        # The parcel area: the shelf manifest as the hub publishes it, then its kiosk.
        write_atomic(home.kiosk_manifest, seal_manifest(manifest.build(c.db, now), c.key))
        wrong = next(c.db.query("select waybill from parcels where household != ? and "
                                "state = 'shelved' and batch is null limit 1",
                                [area.sample_household]))["waybill"]
        folder = write_frames(root / "camera-parcels", _pickup_frames(c, now, wrong))
        url, stop = _kiosk(home, KioskConfig(camera=f"file:{folder}?fps={FPS}",
                                             gate_id="parcels-1", role="parcels", **common))
        taken |= _shoot_kiosk(browser, url, out, PICKUP_SHOTS)
        stop()
        # The office.
        taken |= _admin_shots(browser, c, area.batch, now, out)
        browser.close()
    print(f"{len(taken)} screenshots in {out}: " + ", ".join(sorted(f'{s}-{n}' for s, n in taken)))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screens"))
