"""Every kind of alert the office can see, with its label: one enumeration.

Raised by the ingest, the parcel rules and the gates' budget through
hub.alert_log.add_alert, which takes only an AlertKind; shown by the overview with the
label here. The values are what the alerts table has always held, so alerts raised
before this module existed keep their labels.
"""
from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from gatehouse.policy import Reason


class AlertKind(str, Enum):
    # An attempt the policy flags for the office: its reason's own name.
    HEALTH_RED = "HEALTH_RED"
    SIGNATURE_BAD = "SIGNATURE_BAD"
    ISSUER_UNTRUSTED = "ISSUER_UNTRUSTED"
    PASS_REVOKED = "PASS_REVOKED"
    NOT_SAME_PERSON = "NOT_SAME_PERSON"
    OUT_TOO_LONG = "OUT_TOO_LONG"
    ATTEMPT = "alert"              # flagged by a gate for a reason this hub does not know
    # The door and the gates.
    DOOR_FORCED = "door_forced"
    DOOR_HELD = "door_held"
    GATE_OFFLINE = "gate_offline"
    CLOCK_UNTRUSTED = "clock_untrusted"   # shown from the heartbeat, never stored
    MOCK_PINS = "mock_pins"
    CAMERA_LOST = "camera_lost"          # closed by the gate when its camera is back
    # What two gates did offline that the policy would not have allowed together.
    PASSBACK_ACROSS_GATES = "conflict:passback_across_gates"
    QUOTA_EXCEEDED = "conflict:quota_exceeded"
    # Parcels.
    PARCEL_AREA_FULL = "parcel_area_full"
    PARCEL_WRONG_PICKUP = "parcel_wrong_pickup"
    PARCEL_EARLY_RELEASE = "parcel_early_release"
    PARCEL_PICKUP_CONFLICT = "parcel_pickup_conflict"
    PARCEL_PICKUP_UNKNOWN = "parcel_pickup_unknown"
    PICKUP_CODES_PAUSED = "pickup_codes_paused"
    PICKUP_FROM_OTHER_GATE = "pickup_from_other_gate"
    PARCEL_VOID_REFUSED = "parcel_void_refused"
    # The wire itself.
    EVENT_NOT_APPLIED = "event_not_applied"
    DUPLICATE_ID_CONFLICT = "duplicate_id_conflict"
    SEQ_REUSED = "seq_reused"
    GATE_QUOTA = "gate_quota"
    # The district link (hub/district_orders.py, hub/district_silence.py).
    DISTRICT_ORDER_FORGED = "district_order_forged"
    DISTRICT_SILENT = "district_silent"

    @property
    def label(self) -> str:
        """What the office reads: Chinese, then English."""
        return " ".join(LABELS[self])

    @classmethod
    def conflict(cls, kind: str) -> AlertKind:
        """The alert of a conflict kind ("passback_across_gates")."""
        return cls(f"conflict:{kind}")

    @classmethod
    def of_attempt(cls, reasons: Iterable[str]) -> AlertKind:
        """An alerting attempt's kind: its first reason that alerts. The gate sorts the
        refusing reasons first, so this is its first reason whenever that one alerts;
        a reason this hub does not know still raises the alert, as ATTEMPT."""
        for r in reasons:
            if r in ALERTING_REASONS:
                return cls(r)
        return cls.ATTEMPT


ALERTING_REASONS = frozenset(r.value for r in Reason if r.alerts)

LABELS: dict[AlertKind, tuple[str, str]] = {
    AlertKind.HEALTH_RED: ("红码", "Red health code"),
    AlertKind.SIGNATURE_BAD: ("伪造或篡改的码", "Forged code"),
    AlertKind.ISSUER_UNTRUSTED: ("不受信任的发码方", "Untrusted issuer"),
    AlertKind.PASS_REVOKED: ("已注销的出入证", "Revoked pass"),
    AlertKind.NOT_SAME_PERSON: ("冒用他人的码", "Someone else's code"),
    AlertKind.OUT_TOO_LONG: ("外出超时", "Out too long"),
    AlertKind.ATTEMPT: ("门岗报警", "Alert from a gate"),
    AlertKind.DOOR_FORCED: ("门被强行打开", "Door forced"),
    AlertKind.DOOR_HELD: ("门长时间未关", "Door held open"),
    AlertKind.GATE_OFFLINE: ("门岗离线", "Gate offline"),
    AlertKind.CLOCK_UNTRUSTED: ("门岗时间未校准", "Clock untrusted"),
    AlertKind.MOCK_PINS: ("门岗以模拟引脚运行，门未连接", "Gate on simulated pins: no door"),
    AlertKind.CAMERA_LOST: ("门岗摄像头断开，无法扫码", "Gate camera lost: no codes read"),
    AlertKind.PASSBACK_ACROSS_GATES: ("跨门重复进出", "Passback across gates"),
    AlertKind.QUOTA_EXCEEDED: ("超出出门次数", "Exit quota exceeded"),
    AlertKind.PARCEL_AREA_FULL: ("快递区货架已满", "Parcel shelves full"),
    AlertKind.PARCEL_WRONG_PICKUP: ("取错快递", "Wrong parcel taken"),
    AlertKind.PARCEL_EARLY_RELEASE: ("静置未满即取件", "Handed out before its hold ended"),
    AlertKind.PARCEL_PICKUP_CONFLICT: ("取件与状态不符", "Pickup of a parcel not on the shelf"),
    AlertKind.PARCEL_PICKUP_UNKNOWN: ("取件不明快递", "Pickup of an unknown parcel"),
    AlertKind.PICKUP_CODES_PAUSED: ("取件码多次输错", "Pickup codes guessed"),
    AlertKind.PICKUP_FROM_OTHER_GATE: ("非快递区门岗报告取件",
                                       "Pickup reported by a non-parcel gate"),
    AlertKind.PARCEL_VOID_REFUSED: ("已上架快递不能撤销", "Void of a shelved parcel refused"),
    AlertKind.EVENT_NOT_APPLIED: ("门岗事件未能处理", "Gate event not applied"),
    AlertKind.DUPLICATE_ID_CONFLICT: ("同一事件编号内容不同", "Same event id, other content"),
    AlertKind.SEQ_REUSED: ("门岗事件序号重复（旧SD卡镜像？）",
                           "Gate counted its events again (old SD image?)"),
    AlertKind.GATE_QUOTA: ("门岗发送数据超出每日限额", "Gate over its daily data budget"),
    AlertKind.DISTRICT_ORDER_FORGED: ("街道指令签名无效（伪造？）",
                                      "District order with a bad signature"),
    AlertKind.DISTRICT_SILENT: ("街道平台无回执（数据未送达）",
                                "District link silent: no acks"),
}


def label_of(kind: str) -> str:
    """The label of a stored alert's kind; an unknown one (a kind since retired) as is."""
    try:
        return AlertKind(kind).label
    except ValueError:
        return kind
