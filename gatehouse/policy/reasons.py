"""Why a gate decided as it did: machine-readable reasons with Chinese and English texts.

A reason's text is what the volunteer reads out to the person, so it names the rule
that failed in plain words ("核酸检测已超过48小时"), never a rule number.
"""
from __future__ import annotations

from enum import Enum


class Reason(str, Enum):
    MISSING_CODE = "MISSING_CODE"
    HEALTH_RED = "HEALTH_RED"
    HEALTH_YELLOW = "HEALTH_YELLOW"
    TEST_TOO_OLD = "TEST_TOO_OLD"
    TEST_MISSING = "TEST_MISSING"
    VACCINATION_INCOMPLETE = "VACCINATION_INCOMPLETE"
    ITINERARY_STAR = "ITINERARY_STAR"
    PASS_REVOKED = "PASS_REVOKED"
    BUILDING_SEALED = "BUILDING_SEALED"
    BUILDING_CONTROLLED = "BUILDING_CONTROLLED"
    BUILDING_RESTRICTED = "BUILDING_RESTRICTED"
    QUOTA_USED = "QUOTA_USED"
    OUTSIDE_HOURS = "OUTSIDE_HOURS"
    OUT_TOO_LONG = "OUT_TOO_LONG"
    PASSBACK = "PASSBACK"
    NOT_SAME_PERSON = "NOT_SAME_PERSON"
    SIGNATURE_BAD = "SIGNATURE_BAD"
    ISSUER_UNTRUSTED = "ISSUER_UNTRUSTED"
    CODE_INVALID = "CODE_INVALID"
    CODE_UNRECOGNISED = "CODE_UNRECOGNISED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    CLOCK_UNTRUSTED = "CLOCK_UNTRUSTED"
    DATA_STALE = "DATA_STALE"
    VISITOR_CHECK = "VISITOR_CHECK"
    COURIER_NO_ENTRY = "COURIER_NO_ENTRY"

    @property
    def alerts(self) -> bool:
        """Whether the hub raises an alert for the office."""
        return self in _ALERTS

    @property
    def depends_on_clock(self) -> bool:
        """Reasons a wrong clock could produce: never final when the clock is untrusted."""
        return self in _CLOCK_BOUND


_ALERTS = {Reason.HEALTH_RED, Reason.SIGNATURE_BAD, Reason.ISSUER_UNTRUSTED,
           Reason.PASS_REVOKED, Reason.NOT_SAME_PERSON, Reason.OUT_TOO_LONG}
_CLOCK_BOUND = {Reason.EXPIRED, Reason.NOT_YET_VALID, Reason.TEST_TOO_OLD,
                Reason.QUOTA_USED, Reason.OUTSIDE_HOURS, Reason.OUT_TOO_LONG}

# {param} placeholders; WORDS below translates parameter values that are words.
TEXTS: dict[Reason, tuple[str, str]] = {
    Reason.MISSING_CODE: ("请出示{kind}", "Show your {kind}"),
    Reason.HEALTH_RED: ("健康码红码，不能通行", "Red health code: no entry"),
    Reason.HEALTH_YELLOW: ("健康码黄码，请志愿者核实", "Yellow health code: a volunteer will check"),
    Reason.TEST_TOO_OLD: ("核酸检测已超过{limit}（{age}前采样）",
                          "Last negative test is older than {limit} (sampled {age} ago)"),
    Reason.TEST_MISSING: ("没有核酸检测记录", "No negative test on record"),
    Reason.VACCINATION_INCOMPLETE: ("疫苗接种未达要求（需{required}）",
                                    "Vaccination below the requirement ({required})"),
    Reason.ITINERARY_STAR: ("行程码带星号，请志愿者核实", "Itinerary code has a star: a volunteer will check"),
    Reason.PASS_REVOKED: ("出入证已注销", "This pass has been revoked"),
    Reason.BUILDING_SEALED: ("{building}号楼封控中，居民足不出户",
                             "Building {building} is sealed: residents stay home"),
    Reason.BUILDING_CONTROLLED: ("{building}号楼管控中，不能离开小区",
                                 "Building {building} is controlled: residents may not leave the compound"),
    Reason.BUILDING_RESTRICTED: ("{building}号楼为{status}状态，现在不能{direction}",
                                 "Building {building} is under {status}: no {direction} now"),
    Reason.QUOTA_USED: ("出门次数已用完（每{scope}每{period}小时{count}次）",
                        "Exit quota used up ({count} per {scope} every {period} h)"),
    Reason.OUTSIDE_HOURS: ("现在不是允许外出时间（{start}–{until}）",
                           "Going out is allowed {start}–{until} only"),
    Reason.OUT_TOO_LONG: ("外出超过{hours}小时", "Was out for more than {hours} h"),
    Reason.PASSBACK: ("已有{last}记录，请志愿者核实", "Last recorded as {last}: a volunteer will check"),
    Reason.NOT_SAME_PERSON: ("出示的码不属于同一人", "These codes belong to different people"),
    Reason.SIGNATURE_BAD: ("码无效：签名不符，可能被篡改", "Invalid code: the signature does not match (altered or forged)"),
    Reason.ISSUER_UNTRUSTED: ("发码机构不被信任", "Issued by an issuer this gate does not trust"),
    Reason.CODE_INVALID: ("码已损坏，无法读取", "Damaged code: its contents cannot be read"),
    Reason.CODE_UNRECOGNISED: ("不是本小区可识别的码", "Not a pass, health or itinerary code"),
    Reason.EXPIRED: ("{kind}已过期", "The {kind} has expired"),
    Reason.NOT_YET_VALID: ("{kind}的签发时间晚于本机时间", "The {kind} is dated after this gate's clock"),
    Reason.CLOCK_UNTRUSTED: ("本机时间未校准，请志愿者核实", "This gate's clock is not verified: a volunteer will check"),
    Reason.DATA_STALE: ("门岗数据已{hours}小时未更新", "Gate data not updated for {hours} h"),
    Reason.VISITOR_CHECK: ("访客请登记", "Visitors: please register with a volunteer"),
    Reason.COURIER_NO_ENTRY: ("快递员请在门口放件", "Couriers leave parcels at the gate"),
}

WORDS: dict[str, tuple[str, str]] = {
    "pass": ("出入证", "compound pass"),
    "health": ("健康码", "health code"),
    "itinerary": ("行程码", "itinerary code"),
    "courier": ("快递员工牌", "courier badge"),
    "venue": ("场所码", "venue code"),
    "code": ("码", "code"),
    "in": ("进门", "entry"),
    "out": ("出门", "exit"),
    "person": ("人", "person"),
    "normal": ("正常", "normal rules"),
    "precaution": ("防范", "precaution"),
    "controlled": ("管控", "control"),
    "sealed": ("封控", "sealing"),
    "household": ("户", "household"),
    "primary": ("完成全程接种", "completed primary series"),
    "booster": ("完成加强针", "completed booster"),
}

ADMIT_TEXT = {"in": ("请通行", "Please enter"), "out": ("请通行", "Please go ahead")}
LANGS = ("zh", "en")


def render(reason: Reason, params: dict, lang: str = "zh") -> str:
    """The reason's text in one language, with its parameters filled in."""
    i = LANGS.index(lang)
    words = {k: _word(v, lang, i) for k, v in params.items()}
    return TEXTS[reason][i].format(**words)


def _word(value, lang: str, i: int):
    if isinstance(value, dict):          # already given in both languages
        return value[lang]
    if isinstance(value, str) and value in WORDS:
        return WORDS[value][i]
    return value


def duration(seconds: float) -> dict[str, str]:
    """A rough age for people in both languages: 26小时 / 26 h; 3天 / 3 days past 72 h."""
    hours = int(seconds // 3600)
    if hours >= 72:
        return {"zh": f"{hours // 24}天", "en": f"{hours // 24} days"}
    return {"zh": f"{hours}小时", "en": f"{hours} h"}


def days(n: int) -> dict[str, str]:
    """A count of calendar days in both languages."""
    return {"zh": f"{n}天", "en": f"{n} days"}
