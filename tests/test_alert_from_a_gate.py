"""Issue 14's "done when": a red code at a real kiosk reaches a WeCom group robot and a
signed DingTalk robot from a real `hub serve`, through a real Mosquitto, masked."""
from __future__ import annotations

import time

from demo.scenes import showing, write_frames
from gatehouse.codes import Colour
from hub import notify
from hub.alert_delivery import config_path
from hub.alert_kinds import AlertKind
from hub.alert_rules import AlertRoute, AlertRules, RouteChannel, save_rules
from tests.conftest import ALICE_ID, HOUR
from tests.processes import hub_process, kiosk_process, wait_until
from tests.test_alert_delivery import DING_SECRET, robot  # noqa: F401


def test_a_red_code_at_a_gate_reaches_wecom_and_dingtalk(compound, authority, broker_proc,
                                                          gate_home, robot, tmp_path):  # noqa: F811
    now = int(time.time())
    texts = [compound.issue_pass(ALICE_ID, "张三丰", "7", "302", now - 86400),
             authority.health(ALICE_ID, Colour.RED, now - HOUR, now - 20 * HOUR)]
    compound.publish(now)
    gate = gate_home("gate-north")
    red = AlertKind.HEALTH_RED.value
    save_rules(config_path(compound.home.hub), AlertRules((
        AlertRoute("office", RouteChannel.WECOM, robot.wecom(), kinds=(red,), burst_s=2),
        AlertRoute("street", RouteChannel.DINGTALK, robot.dingtalk(), DING_SECRET,
                   kinds=(red,), burst_s=2))))
    # Residents' notices to a file: `hub serve` starts its outbox worker with a sender.
    notify.save_config(compound.home, notify.NotifyConfig(
        channel=notify.Channel.FILE, path=str(tmp_path / "residents.jsonl")))
    hub = hub_process(compound.home, tmp_path / "hub.log").start()
    frames = write_frames(tmp_path / "red", showing(*texts, frames_each=3, gap=2, tail=20))
    kiosk = kiosk_process(gate, f"file:{frames}?fps=15&loop=1", tmp_path / "kiosk.log",
                          cooldown_s=0.3, attempt_window_s=1, gate_id="gate-north")
    kiosk.start()
    try:
        wait_until(lambda: robot.of("wecom") and robot.of("dingtalk"), 60,
                   message=f"both robots to hear of the red code; refused: {robot.refused}")
    finally:
        kiosk.stop()
        hub.stop()
    for doc in robot.of("wecom") + robot.of("dingtalk"):
        assert doc["msgtype"] == "text"
        text = doc["text"]["content"]
        assert text.startswith("【测试小区】红码 Red health code"), text
        assert "gate-north" in text and "张*丰 7-**2" in text
        assert "张三丰" not in text and "7-302" not in text
    assert robot.refused == []      # the DingTalk signature verified
