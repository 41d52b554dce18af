"""The demo's compound, its scripted morning at two gates, and its parcel area."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from demo.parcels import ParcelArea, stock
from demo.scenes import label_frame, phone_frame, write_frames
from gatehouse.codes.base45 import ALPHABET
from gatehouse.codes.kinds import Colour
from gatehouse.home import Home
from gatehouse.processes import free_port
from gatehouse.policy import BuildingStatus
from hub import policy_versions, users
from hub.authority import TestAuthority
from hub.compound import Compound
from hub.gates import add_gate, setup_broker

FPS = 15
COURIER_WAYBILLS = ("SF1402338799001", "YT7712345600123", "JT3012345600456", "78123456789012")
# The rooms on those labels, keyed by the north gate's volunteer (demo.courier_desk).
COURIER_ROOMS = ["7-302", "12-1101", "3-501", "7-101"]
DAY, HOUR = 86400, 3600
# Made-up people; the ID numbers have valid check digits and are never shown.
ZHANG, LI, WANG, CHILD, VISITOR = ("110101199003070011", "310104195812010025",
                                   "110101198001010029", "110105201506010032",
                                   "110101198001010037")


@dataclass
class GateSpec:
    id: str
    home: Home
    camera: str
    direction: str
    web_port: int
    role: str = "gate"          # "parcels": the pickup kiosk at the shelves


@dataclass
class Scenario:
    port: int
    broker_conf: Path
    zone: str
    seal_after: float
    compound: Compound
    web_port: int
    admin_password: str
    volunteer_pin: str
    parcels: ParcelArea
    gates: list[GateSpec] = field(default_factory=list)
    courier_rooms: list[str] = field(default_factory=lambda: list(COURIER_ROOMS))

    def seal(self) -> None:
        """What the office does mid-demo: `hub building set 7 sealed`."""
        self.compound.set_building("7", BuildingStatus.SEALED, int(time.time()), "demo")


def _alter(text: str) -> str:
    """One character changed in the middle, as a doctored screenshot would."""
    i = len(text) // 2
    return text[:i] + ALPHABET[(ALPHABET.index(text[i]) + 1) % 45] + text[i + 1:]


class _Reel:
    """Frames of a camera: people holding codes up, one after another."""

    def __init__(self):
        self.frames: list = []
        self.blank = phone_frame(None)

    def wait(self, seconds: float) -> _Reel:
        self.frames += [self.blank] * int(seconds * FPS)
        return self

    def show(self, *codes: str, hold: float = 1.2, gap: float = 0.8) -> _Reel:
        for code in codes:
            self.frames += [phone_frame(code)] * int(hold * FPS)
            self.wait(gap)
        return self.wait(1.5)

    def labels(self, *waybills: str, hold: float = 0.8, gap: float = 0.5) -> _Reel:
        """A courier holding each parcel's waybill label (Code128) up in turn."""
        for waybill in waybills:
            self.frames += [label_frame(waybill)] * int(hold * FPS)
            self.wait(gap)
        return self.wait(1.5)

    @property
    def seconds(self) -> float:
        return len(self.frames) / FPS


def build(root: Path) -> Scenario:
    """Create the compound, its broker config, two registered gates and their cameras,
    the parcel area (demo.parcels) and its pickup kiosk."""
    now = int(time.time())
    hub_home = Home.at(root / "hub-home")
    c = Compound.create(hub_home, "示范小区 Demo Compound", now - 100 * DAY)
    a = TestAuthority.create(hub_home)
    c.trust(a.trusted_key(), now - 100 * DAY)
    port = free_port()
    files = setup_broker(hub_home, port)

    def resident(pid, name, building, room):
        return c.issue_pass(pid, name, building, room, now - 90 * DAY)

    def health(pid, colour=Colour.GREEN, name=None):
        return a.health(pid, colour, now - HOUR, now - 20 * HOUR, name=name)

    zhang, li, wang = resident(ZHANG, "张三丰", "7", "302"), resident(LI, "李四", "12", "1101"), \
        resident(WANG, "王五", "3", "501")
    child = resident(CHILD, "张小宝", "7", "302")
    courier = c.issue_courier("赵六", "顺丰速运", now - 5 * DAY)

    north = (_Reel().wait(5)
             .show(zhang, health(ZHANG, name="张三丰"))
             .show(li, health(LI, Colour.YELLOW))
             .show(wang, health(WANG, Colour.RED))
             .show(zhang, _alter(health(ZHANG)))
             .show(child, health(CHILD))
             .show(health(VISITOR, name="王小明"),
                   a.itinerary(VISITOR, ["上海", "苏州"], True, now - HOUR))
             .show(courier)
             # The courier's drop-off: each label becomes a parcel at the hub, with the
             # room the gate's volunteer keyed from the label (demo.courier_desk).
             .labels(*COURIER_WAYBILLS))
    seal_after = 14.0
    south = _Reel().wait(6).show(li).show(wang)
    south.wait(max(0.0, seal_after + 3 - south.seconds)).show(zhang)
    south.wait(max(0.0, north.seconds - south.seconds))   # both loop on the same morning

    zone = policy_versions.current_policy(c.db).timezone
    password = secrets.token_urlsafe(9)
    users.add_user(c.db, "admin", password, users.Role.ADMIN, now)
    c.add_volunteer("王阿姨", "2468", now, "lead")
    area = stock(c, root, now)
    scenario = Scenario(port, files.conf, zone, seal_after, c, free_port(), password, "2468",
                        area)
    for gate_id, reel, direction in (("gate-north", north, "in"), ("gate-south", south, "out")):
        home = Home.at(root / gate_id)
        add_gate(c, gate_id, {"gate-north": "北门", "gate-south": "南门"}[gate_id], home)
        folder = write_frames(root / "cameras" / gate_id, reel.frames)
        # The morning again and again (loop=1): the screens never run out of camera, and
        # the repeats are what gates see all day (passback, a code shown twice).
        scenario.gates.append(GateSpec(gate_id, home, f"file:{folder}?fps={FPS}&loop=1",
                                       direction, free_port()))
    # The parcel area's kiosk: same program, role "parcels" in its home's config.toml.
    # Its camera shows an empty phone screen: codes are keyed on its screen.
    home = Home.at(root / "parcels-1")
    add_gate(c, "parcels-1", "快递区", home, role="parcels")
    (home.kiosk / "config.toml").write_text('role = "parcels"\n')
    folder = write_frames(root / "cameras" / "parcels-1", [phone_frame(None)])
    scenario.gates.append(GateSpec("parcels-1", home, f"file:{folder}?fps=5&loop=1", "in",
                                   free_port(), "parcels"))
    return scenario
