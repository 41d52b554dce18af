"""The hub and kiosk commands as a committee would script them, on a real home folder."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from pyzbar import pyzbar

from hub.cli import main as hub
from kiosk.cli import main as kiosk
from tests.conftest import ALICE_ID, BOB_ID

AT = "2026-11-23T08:00"
ISSUED = "2026-11-20T08:00"


@pytest.fixture
def run(tmp_path):
    home = str(tmp_path / "home")
    runner = CliRunner()

    def run(cli, *args, ok=True):
        result = runner.invoke(cli, _with_home(args, home), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    run.home = home
    return run


def _with_home(args, home):
    # --home goes after the last sub-command word: ["issue", "pass", "--x"] -> insert at 2.
    words = 0
    while words < len(args) and not args[words].startswith("-") and args[words] in {
            "init", "issue", "pass", "venue", "courier", "authority", "health", "itinerary",
            "building", "set", "list", "policy", "show", "diff", "decide", "revoke", "codes",
            "bundle", "scan"}:
        words += 1
    return [*args[:words], "--home", home, *args[words:]]


@pytest.fixture
def compound(run):
    run(hub, "init", "--name", "测试小区", "--at", ISSUED)
    run(hub, "authority", "init", "--at", ISSUED)
    return run


def issue_alice(run, **kw):
    p = run(hub, "issue", "pass", "--person-id", ALICE_ID, "--name", "张三丰", "--building",
            "7", "--room", "302", "--at", ISSUED).output.strip()
    h = run(hub, "authority", "health", "--person-id", kw.get("health_id", ALICE_ID),
            "--colour", kw.get("colour", "green"), "--tested-at", "2026-11-22T09:00",
            "--at", "2026-11-23T06:00").output.strip()
    return p, h


def decide(run, *codes, direction="in", at=AT):
    out = run(kiosk, "decide", "--at", at, "--direction", direction, *codes).output
    return json.loads(out)


def test_resident_with_pass_and_green_code_is_admitted(compound):
    p, h = issue_alice(compound)
    doc = decide(compound, p, h)
    assert doc["decision"] == "admit"
    assert doc["person"]["name"] == "张*丰"
    assert doc["text"]["zh"] == "请通行"
    assert ALICE_ID not in json.dumps(doc)


def test_building_sealed_at_the_hub_is_seen_by_the_next_decide(compound):
    p, _ = issue_alice(compound)
    assert decide(compound, p, direction="out")["decision"] == "admit"
    compound(hub, "building", "set", "7", "sealed", "--at", AT)
    doc = decide(compound, p, direction="out")
    assert doc["decision"] == "refuse"
    assert [r["code"] for r in doc["reasons"]] == ["BUILDING_SEALED"]
    assert doc["reasons"][0]["zh"] == "7号楼封控中，居民足不出户"


def test_another_persons_code_is_refused(compound):
    p, h = issue_alice(compound, health_id=BOB_ID)
    doc = decide(compound, p, h)
    assert doc["decision"] == "refuse" and doc["reasons"][0]["code"] == "NOT_SAME_PERSON"


def test_revoked_pass_is_refused(compound):
    p, h = issue_alice(compound)
    pass_id = decide(compound, p, h)["person"]["pass_id"]
    compound(hub, "revoke", pass_id, "--at", AT)
    doc = decide(compound, p, h)
    assert doc["decision"] == "refuse" and "PASS_REVOKED" in [r["code"] for r in doc["reasons"]]


def test_health_code_of_an_authority_the_hub_does_not_trust(tmp_path, compound):
    """A second compound's authority mints a code; this compound's gate refuses it."""
    other = CliRunner()
    other_home = str(tmp_path / "other")
    other.invoke(hub, ["init", "--home", other_home])
    other.invoke(hub, ["authority", "init", "--home", other_home])
    h = other.invoke(hub, ["authority", "health", "--home", other_home, "--person-id",
                           ALICE_ID, "--colour", "green", "--at", AT]).output.strip()
    p, _ = issue_alice(compound)
    doc = decide(compound, p, h)
    assert doc["decision"] == "refuse"
    assert "ISSUER_UNTRUSTED" in [r["code"] for r in doc["reasons"]]


def test_issued_png_scans_back_to_the_same_code(compound, tmp_path):
    png = tmp_path / "pass.png"
    text = compound(hub, "issue", "pass", "--person-id", ALICE_ID, "--name", "张三丰",
                    "--building", "7", "--room", "302", "--png", str(png)).output.strip()
    image = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    found = pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])
    assert [s.data.decode() for s in found] == [text.splitlines()[0]]


def test_policy_set_validates_and_diff_explains(compound, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"test": {"max_hours": 0}}))
    result = compound(hub, "policy", "set", str(bad), ok=False)
    assert result.exit_code == 1 and "max_hours" in result.output
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"test": {"max_hours": 72}, "health": {"yellow": "refuse"}}))
    out = compound(hub, "policy", "set", str(good), "--at", AT).output
    assert "policy version 2 saved" in out
    diff = compound(hub, "policy", "diff").output
    assert "health.yellow: refer -> refuse" in diff and "test.max_hours: 48 -> 72" in diff
    p, h = issue_alice(compound, colour="yellow")
    doc = decide(compound, p, h)
    assert doc["decision"] == "refuse" and doc["policy_version"] == 2


@pytest.mark.parametrize("args, message", [
    (["issue", "pass", "--person-id", "110101199003070012", "--name", "张三", "--building",
      "7", "--room", "1"], "check digit"),
    (["issue", "pass", "--person-id", ALICE_ID, "--name", "张三", "--building", "7" * 80,
      "--room", "1"], "building"),
    (["building", "set", "7", "locked"], "Invalid value"),
])
def test_bad_input_gets_a_clear_error(compound, args, message):
    result = compound(hub, *args, ok=False)
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


def test_decide_without_a_compound_says_what_to_do(run):
    result = run(kiosk, "decide", "GH1:ABC", ok=False)
    assert result.exit_code == 1 and "hub init" in result.output


def test_garbage_codes_are_decided_not_crashed(compound):
    doc = decide(compound, "GH1:%%%%", "hello", "GH1:" + "A" * 900)
    assert doc["decision"] == "refuse"
    assert {c["problem"] for c in doc["codes"]} == {"malformed", "not_ours"}


def test_installed_commands_run_with_gatehouse_home(tmp_path):
    """The console scripts work as the README shows, with the home from the environment."""
    bindir = Path(sys.executable).parent
    env = {"GATEHOUSE_HOME": str(tmp_path / "h"), "PATH": f"{bindir}:/usr/bin:/bin"}
    subprocess.run([bindir / "hub", "init"], env=env, check=True, capture_output=True)
    code = subprocess.run([bindir / "hub", "issue", "venue", "--place", "gate-north",
                           "--kind", "gate"], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()
    out = subprocess.run([bindir / "kiosk", "decide", "--clock", "trusted", code], env=env,
                         check=True, capture_output=True, text=True).stdout
    assert json.loads(out)["codes"][0]["kind"] == "venue"


def test_scan_reads_images_and_decides_them_as_one_attempt(compound, tmp_path):
    from demo.scenes import phone_frame
    p, h = issue_alice(compound)
    paths = []
    for name, text in (("pass.png", p), ("health.png", h), ("empty.png", None)):
        cv2.imwrite(str(tmp_path / name), phone_frame(text))
        paths.append(str(tmp_path / name))
    out = compound(kiosk, "scan", "--decide", "--at", AT, *paths).output.splitlines()
    lines = [json.loads(line) for line in out]
    assert [len(x["codes"]) for x in lines[:3]] == [1, 1, 0]
    assert lines[0]["codes"][0]["text"] == p and lines[0]["ms"] > 0
    assert lines[3]["decision"]["decision"] == "admit"
