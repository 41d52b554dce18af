"""The policy: data that says what a gate decides, versioned and validated.

Every default lives here. docs/policy.md explains each field; `hub policy diff`
shows what changed between two versions.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Direction(str, Enum):
    IN = "in"
    OUT = "out"


class Who(str, Enum):
    RESIDENT = "resident"   # shows a compound pass
    VISITOR = "visitor"     # health code but no pass
    COURIER = "courier"     # shows a courier badge


class BuildingStatus(str, Enum):
    NORMAL = "normal"
    PRECAUTION = "precaution"   # 防范: exits limited
    CONTROLLED = "controlled"   # 管控: no leaving the compound
    SEALED = "sealed"           # 封控: no leaving home


class Outcome(str, Enum):
    ADMIT = "admit"
    REFER = "refer"
    REFUSE = "refuse"

    @property
    def severity(self) -> int:
        return {"admit": 0, "refer": 1, "refuse": 2}[self.value]


CodeName = Literal["pass", "health", "itinerary", "courier"]
Action = Literal["refer", "refuse"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecencyRule(_Strict):
    """Test recency: in hours since sampling, or calendar days with sampling day = day 0."""

    mode: Literal["hours", "calendar_days"] = "hours"
    max_hours: int = Field(48, ge=1, le=24 * 30)
    max_days: int = Field(2, ge=0, le=30)
    required_for: list[Who] = [Who.RESIDENT, Who.VISITOR]
    action: Action = "refuse"


class VaccinationRule(_Strict):
    minimum: Literal["none", "primary", "booster"] = "none"
    not_suitable_counts: bool = True   # a medical exemption meets the minimum
    action: Action = "refer"


class HealthRule(_Strict):
    yellow: Action = "refer"
    red: Literal["refuse"] = "refuse"


class ItineraryRule(_Strict):
    star: Action = "refer"


class QuotaRule(_Strict):
    """Exits under precaution 防范: N per period, per person or household, within hours."""

    scope: Literal["person", "household"] = "household"
    exits: int = Field(1, ge=0, le=50)
    period_hours: int = Field(24, ge=1, le=24 * 14)
    max_hours_out: int = Field(4, ge=1, le=72)
    allowed_from: str = "06:00"
    allowed_until: str = "20:00"

    # The window and the key are one rule, read the same by the gate (deciding) and by
    # the hub (finding the quota spent twice across gates).
    def window_start(self, at: float) -> float:
        """Exits after this time (and up to `at`) count against the quota."""
        return at - self.period_hours * 3600

    def counted_by(self, person_ref: str | None, household: str | None
                   ) -> tuple[str, str | None]:
        """(column, value) whose exits count: the household's or the person's."""
        return ("household", household) if self.scope == "household" else \
            ("person_ref", person_ref)

    @field_validator("allowed_from", "allowed_until")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError("a time of day is HH:MM, 00:00-23:59")
        return v


class StatusRule(_Strict):
    """What residents of a building in one status may do at the gate."""

    in_: Literal["admit", "refer", "refuse"] = Field("admit", alias="in")
    out: Literal["admit", "refer", "refuse", "quota"] = "admit"
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _default_statuses() -> dict[BuildingStatus, StatusRule]:
    return {
        BuildingStatus.NORMAL: StatusRule(),
        BuildingStatus.PRECAUTION: StatusRule(out="quota"),
        BuildingStatus.CONTROLLED: StatusRule(out="refuse"),
        BuildingStatus.SEALED: StatusRule(in_="refer", out="refuse"),
    }


def _default_requirements() -> dict[Who, dict[Direction, list[CodeName]]]:
    return {
        Who.RESIDENT: {Direction.IN: ["pass", "health"], Direction.OUT: ["pass"]},
        Who.VISITOR: {Direction.IN: ["health", "itinerary"], Direction.OUT: []},
        Who.COURIER: {Direction.IN: ["courier"], Direction.OUT: []},
    }


class StaleRule(_Strict):
    """When the gate's copy of policy, revocations and keys is too old to trust fully."""

    after_hours: int = Field(24, ge=1, le=24 * 30)
    action: Literal["warn", "refer", "refuse"] = "warn"


class Policy(_Strict):
    """What a gate decides. Changing any field means a new version."""

    version: int = Field(1, ge=1)
    timezone: str = "Asia/Shanghai"
    requirements: dict[Who, dict[Direction, list[CodeName]]] = Field(
        default_factory=_default_requirements)
    health: HealthRule = HealthRule()
    test: RecencyRule = RecencyRule()
    vaccination: VaccinationRule = VaccinationRule()
    itinerary: ItineraryRule = ItineraryRule()
    buildings: dict[BuildingStatus, StatusRule] = Field(default_factory=_default_statuses)
    quota: QuotaRule = QuotaRule()
    passback: Literal["off", "refer", "refuse"] = "refer"
    visitors: Literal["admit", "refer", "refuse"] = "refer"
    couriers: Literal["admit", "refer", "refuse"] = "refuse"
    stale: StaleRule = StaleRule()
    code_skew_seconds: int = Field(300, ge=0, le=3600)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = [s.value for s in BuildingStatus if s not in self.buildings]
        if missing:
            raise ValueError(f"buildings: no rule for status {', '.join(missing)}")
        for who in Who:
            for d in Direction:
                if d not in self.requirements.get(who, {}):
                    raise ValueError(f"requirements: nothing said for {who.value} {d.value}")
        if self.requirements[Who.RESIDENT][Direction.IN] and \
                "pass" not in self.requirements[Who.RESIDENT][Direction.IN]:
            raise ValueError("requirements: a resident is known by the pass; keep 'pass'")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, doc: dict) -> Policy:
        return cls.model_validate(doc)
