"""The whole reason table: each row is one situation at the gate and what it must decide."""
from dataclasses import replace
from datetime import datetime

import pytest

from gatehouse import codes
from gatehouse.codes import (
    CodeKind,
    Colour,
    Courier,
    Health,
    Itinerary,
    Pass,
    SigningKey,
    TrustList,
    Vaccination,
)
from gatehouse.policy import (
    BuildingStatus,
    Direction,
    GateState,
    History,
    Outcome,
    Policy,
    Reason,
    decide,
)
from tests.conftest import HOUR, T0, ZONE

HUB = SigningKey.generate()
AUTH = SigningKey.generate()
ROGUE = SigningKey.generate()
TRUST = TrustList.of(
    HUB.trusted("hub", frozenset({CodeKind.PASS, CodeKind.VENUE, CodeKind.COURIER})),
    AUTH.trusted("authority", frozenset({CodeKind.HEALTH, CodeKind.ITINERARY})))
ALICE, BOB = b"A" * 12, b"B" * 12
PASS_ID = b"pass0001"


def verify(claims, key, iat=T0 - HOUR, exp=T0 + 20 * HOUR, cti=None):
    return codes.verify(codes.encode(claims, key, iat, exp, cti), TRUST, T0)


def pass_(ref=ALICE, building="7", **kw):
    return verify(Pass(ref, "张*丰", building, None, "302"), HUB, cti=PASS_ID, **kw)


def health(ref=ALICE, colour=Colour.GREEN, tested=T0 - 20 * HOUR,
           vacc=Vaccination.BOOSTER, key=AUTH, **kw):
    return verify(Health(ref, colour, tested, vacc, 3), key, **kw)


def itinerary(ref=ALICE, star=False):
    return verify(Itinerary(ref, ("上海",), star), AUTH)


def courier():
    return verify(Courier("王*", "顺丰速运"), HUB)


def at(hhmm: str) -> int:
    h, m = map(int, hhmm.split(":"))
    return int(datetime(2026, 11, 23, h, m, tzinfo=ZONE).timestamp())


IN, OUT = Direction.IN, Direction.OUT
ADMIT, REFER, REFUSE = Outcome.ADMIT, Outcome.REFER, Outcome.REFUSE
P = Policy()
SEALED = {"7": BuildingStatus.SEALED}
CONTROLLED = {"7": BuildingStatus.CONTROLLED}
PRECAUTION = {"7": BuildingStatus.PRECAUTION}

# (id, codes, direction, state overrides, history, now, outcome, reason that must be there)
ROWS = [
    ("resident admitted", lambda: [pass_(), health()], IN, {}, History(), T0, ADMIT, None),
    ("resident exits with pass only", lambda: [pass_()], OUT, {}, History(), T0, ADMIT, None),
    ("health code missing", lambda: [pass_()], IN, {}, History(), T0, REFUSE,
     Reason.MISSING_CODE),
    ("red code", lambda: [pass_(), health(colour=Colour.RED)], IN, {}, History(), T0, REFUSE,
     Reason.HEALTH_RED),
    ("red code on the way out", lambda: [pass_(), health(colour=Colour.RED)], OUT, {},
     History(), T0, REFUSE, Reason.HEALTH_RED),
    ("yellow code", lambda: [pass_(), health(colour=Colour.YELLOW)], IN, {}, History(), T0,
     REFER, Reason.HEALTH_YELLOW),
    ("test 50 h old under 48 h rule", lambda: [pass_(), health(tested=T0 - 50 * HOUR)], IN,
     {}, History(), T0, REFUSE, Reason.TEST_TOO_OLD),
    ("test 33 h old, 2 calendar days, under a 1-day rule",
     lambda: [pass_(), health(tested=at("23:00") - 24 * HOUR - 24 * HOUR)], IN,
     {"policy": Policy(test={"mode": "calendar_days", "max_days": 1})}, History(),
     at("08:00"), REFUSE, Reason.TEST_TOO_OLD),
    ("the same 33 h old test is fine under the 48 h rule",
     lambda: [pass_(), health(tested=at("23:00") - 24 * HOUR - 24 * HOUR)], IN, {},
     History(), at("08:00"), ADMIT, None),
    ("no test on record", lambda: [pass_(), health(tested=None)], IN, {}, History(), T0,
     REFUSE, Reason.TEST_MISSING),
    ("booster required, primary only",
     lambda: [pass_(), health(vacc=Vaccination.PRIMARY)], IN,
     {"policy": Policy(vaccination={"minimum": "booster"})}, History(), T0, REFER,
     Reason.VACCINATION_INCOMPLETE),
    ("itinerary star", lambda: [pass_(), health(), itinerary(star=True)], IN, {}, History(),
     T0, REFER, Reason.ITINERARY_STAR),
    ("revoked pass", lambda: [pass_(), health()], IN, {"revoked": frozenset({PASS_ID.hex()})},
     History(), T0, REFUSE, Reason.PASS_REVOKED),
    ("exit from a sealed building", lambda: [pass_()], OUT, {"buildings": SEALED}, History(),
     T0, REFUSE, Reason.BUILDING_SEALED),
    ("coming home to a sealed building", lambda: [pass_(), health()], IN,
     {"buildings": SEALED}, History(), T0, REFER, Reason.BUILDING_SEALED),
    ("exit from a controlled building", lambda: [pass_()], OUT, {"buildings": CONTROLLED},
     History(), T0, REFUSE, Reason.BUILDING_CONTROLLED),
    ("precaution set to refuse entries by a custom policy", lambda: [pass_(), health()], IN,
     {"buildings": PRECAUTION, "policy": Policy(buildings={
         "normal": {}, "precaution": {"in": "refuse", "out": "quota"},
         "controlled": {"out": "refuse"}, "sealed": {"in": "refer", "out": "refuse"}})},
     History(), T0, REFUSE, Reason.BUILDING_RESTRICTED),
    ("precaution exit within quota", lambda: [pass_()], OUT, {"buildings": PRECAUTION},
     History(exits_in_period=0), at("10:00"), ADMIT, None),
    ("precaution quota used", lambda: [pass_()], OUT, {"buildings": PRECAUTION},
     History(exits_in_period=1), at("10:00"), REFUSE, Reason.QUOTA_USED),
    ("precaution exit at night", lambda: [pass_()], OUT, {"buildings": PRECAUTION},
     History(), at("21:30"), REFUSE, Reason.OUTSIDE_HOURS),
    ("back after 6 h out under precaution", lambda: [pass_(), health()], IN,
     {"buildings": PRECAUTION}, History(last_direction=OUT, out_since=T0 - 6 * HOUR), T0,
     ADMIT, Reason.OUT_TOO_LONG),
    ("entering twice without leaving", lambda: [pass_(), health()], IN, {},
     History(last_direction=IN), T0, REFER, Reason.PASSBACK),
    ("someone else's green code", lambda: [pass_(), health(ref=BOB)], IN, {}, History(), T0,
     REFUSE, Reason.NOT_SAME_PERSON),
    ("altered code", lambda: [pass_(), codes.verify(
        codes.encode(Health(ALICE, Colour.GREEN, T0, Vaccination.BOOSTER, 3), AUTH, T0,
                     T0 + HOUR)[:-4] + "AAAA", TRUST, T0)], IN, {}, History(), T0, REFUSE,
     Reason.SIGNATURE_BAD),
    ("health code from an untrusted issuer", lambda: [pass_(), health(key=ROGUE)], IN, {},
     History(), T0, REFUSE, Reason.ISSUER_UNTRUSTED),
    ("damaged code", lambda: [pass_(), codes.verify("GH1:ABC", TRUST, T0)], IN, {},
     History(), T0, REFUSE, Reason.CODE_INVALID),
    ("a payment QR shown along", lambda: [pass_(), health(),
                                          codes.verify("https://qr.alipay.com/x", TRUST, T0)],
     IN, {}, History(), T0, ADMIT, Reason.CODE_UNRECOGNISED),
    ("expired health code", lambda: [pass_(), health(iat=T0 - 30 * HOUR, exp=T0 - 6 * HOUR)],
     IN, {}, History(), T0, REFUSE, Reason.EXPIRED),
    ("health code dated tomorrow", lambda: [pass_(), health(iat=T0 + 20 * HOUR,
                                                           exp=T0 + 40 * HOUR)],
     IN, {}, History(), T0, REFUSE, Reason.NOT_YET_VALID),
    ("clock untrusted: never admit", lambda: [pass_(), health()], IN,
     {"clock_trusted": False}, History(), T0, REFER, Reason.CLOCK_UNTRUSTED),
    ("clock untrusted: an 'expired' code is referred, not refused",
     lambda: [pass_(), health(iat=T0 - 30 * HOUR, exp=T0 - 6 * HOUR)], IN,
     {"clock_trusted": False}, History(), T0, REFER, Reason.EXPIRED),
    ("clock untrusted: a red code is still refused",
     lambda: [pass_(), health(colour=Colour.RED)], IN, {"clock_trusted": False}, History(),
     T0, REFUSE, Reason.HEALTH_RED),
    ("gate data 30 h old: warn", lambda: [pass_(), health()], IN,
     {"data_age_seconds": 30 * HOUR}, History(), T0, ADMIT, Reason.DATA_STALE),
    ("gate data 30 h old, strict policy", lambda: [pass_(), health()], IN,
     {"data_age_seconds": 30 * HOUR, "policy": Policy(stale={"action": "refer"})}, History(),
     T0, REFER, Reason.DATA_STALE),
    ("visitor", lambda: [health(ref=BOB), itinerary(ref=BOB)], IN, {}, History(), T0, REFER,
     Reason.VISITOR_CHECK),
    ("visitor without itinerary code", lambda: [health(ref=BOB)], IN, {}, History(), T0,
     REFUSE, Reason.MISSING_CODE),
    ("courier at the gate", lambda: [courier()], IN, {}, History(), T0, REFUSE,
     Reason.COURIER_NO_ENTRY),
]


@pytest.mark.parametrize("name, make, direction, overrides, history, now, outcome, reason",
                         ROWS, ids=[r[0] for r in ROWS])
def test_reason_table(name, make, direction, overrides, history, now, outcome, reason):
    state = replace(GateState(P), **overrides)
    d = decide(make(), direction, state, now, history)
    assert d.outcome is outcome, d.to_json()
    if reason is None:
        assert not [f for f in d.findings if f.outcome is not None], d.to_json()
    else:
        assert reason in d.reasons, d.to_json()
        text = next(f for f in d.findings if f.reason is reason)
        assert text.text("zh") and text.text("en") and "{" not in text.text("en")


def test_the_table_covers_every_reason():
    assert {r[7] for r in ROWS} - {None} == set(Reason)


def test_missing_code_says_which_to_show_next():
    d = decide([pass_()], IN, GateState(P), T0)
    assert d.missing == ("health",) and not d.complete
    assert d.text("zh") == "请出示健康码" and d.text("en") == "Show your health code"


def test_a_forged_code_completes_the_attempt_at_once():
    d = decide([codes.verify("GH1:ABC", TRUST, T0)], IN, GateState(P), T0)
    assert d.complete and d.outcome is REFUSE


def test_refusal_explains_in_words_not_rule_numbers():
    d = decide([pass_(), health(tested=T0 - 50 * HOUR)], IN, GateState(P), T0)
    assert d.text("zh") == "核酸检测已超过48小时（50小时前采样）"
    assert d.text("en") == "Last negative test is older than 48 h (sampled 50 h ago)"


def test_alerts_for_the_office():
    assert decide([pass_(), health(colour=Colour.RED)], IN, GateState(P), T0).alert
    assert not decide([pass_(), health(colour=Colour.YELLOW)], IN, GateState(P), T0).alert


def test_decision_names_the_masked_person_and_policy_version():
    d = decide([pass_(), health()], IN, GateState(Policy(version=4)), T0)
    doc = d.to_json()
    assert doc["person"]["name"] == "张*丰" and doc["person"]["household"] == "7-302"
    assert doc["policy_version"] == 4 and doc["decision"] == "admit"


def test_family_codes_of_two_people_are_not_mixed():
    """A parent showing a child's health code with their own pass is refused, not admitted."""
    d = decide([pass_(ref=ALICE), health(ref=BOB)], IN, GateState(P), T0)
    assert d.outcome is REFUSE and Reason.NOT_SAME_PERSON in d.reasons


def test_a_revoked_courier_badge_is_refused_in_either_direction():
    badge = courier()
    state = GateState(P, {}, frozenset({badge.id}), True, 0)
    for direction in (IN, OUT):
        d = decide([badge], direction, state, T0)
        assert d.outcome is REFUSE and Reason.PASS_REVOKED in d.reasons and d.alert
    assert Reason.PASS_REVOKED not in decide([badge], OUT, GateState(P, {}, frozenset(), True, 0),
                                             T0).reasons
