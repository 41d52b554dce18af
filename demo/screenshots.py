"""Screenshots of the volunteer screen and the office page, for docs/screens/.

Run: .venv/bin/python -m demo.screenshots [OUTDIR]   (Debian's Chromium + Playwright)
A compound in a temporary folder, one kiosk on mock pins with a file camera playing a
resident (admit), a yellow code (refer) and a courier with parcels.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from demo.scenes import label_frame, phone_frame, write_frames
from gatehouse.codes.kinds import Colour
from gatehouse.home import Home
from hub.authority import TestAuthority
from hub.compound import Compound
from kiosk import runner
from kiosk.config import KioskConfig

SIZES = {"800x480": (800, 480), "1280x800": (1280, 800)}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FPS = 15


def _frames(c: Compound, a: TestAuthority, now: int) -> list:
    zhang, li = "110101199003070011", "310104195812010025"
    blank = phone_frame(None)

    def show(text, seconds=1.0):
        return [phone_frame(text)] * int(seconds * FPS) + [blank] * 9

    frames = [blank] * 45
    frames += show(c.issue_pass(zhang, "张三丰", "7", "302", now - 86400))
    frames += show(a.health(zhang, Colour.GREEN, now - 3600, now - 20 * 3600))
    frames += [blank] * 150
    frames += show(c.issue_pass(li, "李四", "12", "1101", now - 86400))
    frames += show(a.health(li, Colour.YELLOW, now - 3600, now - 20 * 3600))
    frames += [blank] * 150
    frames += show(c.issue_courier("赵六", "顺丰速运", now - 86400))
    for w in ("SF1234567890123", "YT7712345678901", "75123456789012"):
        frames += [label_frame(w)] * 10 + [blank] * 6
    return frames + [blank] * 600


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
    folder = write_frames(root / "camera", _frames(c, a, now))
    config = KioskConfig(camera=f"file:{folder}?fps={FPS}", pin_factory="mock",
                         clock="trusted", web_port=0, gate_id="gate-north",
                         result_seconds=8, referral_timeout_s=8)
    box: dict = {}
    stop = threading.Event()
    t = threading.Thread(target=runner.run, args=(home, config, stop),
                         kwargs={"started": lambda g, s: box.update(url=s.url)}, daemon=True)
    t.start()
    while "url" not in box:
        time.sleep(0.1)
    taken = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        pages = {name: browser.new_context(viewport={"width": w, "height": h},
                                           locale="zh-CN").new_page()
                 for name, (w, h) in SIZES.items()}
        for page in pages.values():
            page.goto(box["url"])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(taken) < 4 * len(SIZES):
            for name, page in pages.items():
                mode = page.evaluate("document.body.dataset.mode + ':' + document.body.className")
                shot = {"ready:": "ready", "result:admit": "admit", "result:refer": "refer",
                        "courier:": "courier"}.get(mode)
                if shot == "courier" and page.inner_text("#c-count") != "3":
                    shot = None
                if shot and (shot, name) not in taken:
                    time.sleep(0.3)
                    page.screenshot(path=str(out / f"kiosk-{shot}-{name}.png"))
                    taken.add((shot, name))
            time.sleep(0.1)
        browser.close()
    stop.set()
    t.join(10)
    print(f"{len(taken)} screenshots in {out}: " + ", ".join(sorted(f'{s}-{n}' for s, n in taken)))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screens"))
