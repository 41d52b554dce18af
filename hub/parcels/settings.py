"""The parcel area's settings, kept in the hub database (meta) and changed by the office."""
from __future__ import annotations

import json
import re

import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field, field_validator

KEY = "parcel_settings"


class ParcelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hold_minutes: float = Field(30.0, ge=0, le=24 * 60)        # disinfection standing time
    fresh_hold_minutes: float = Field(15.0, ge=0, le=24 * 60)  # fresh food waits less
    overdue_days: float = Field(3.0, gt=0, le=60)
    run_times: tuple[str, ...] = ("10:00", "15:00", "19:00")   # door runs to sealed buildings
    code_start: int = Field(1001, ge=1, le=90000)              # first pickup number of a day

    @field_validator("run_times")
    @classmethod
    def _times(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or any(not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", t) for t in v):
            raise ValueError("run times are HH:MM, at least one")
        return tuple(sorted(v))

    def hold_s(self, fresh: bool, frozen: bool) -> float:
        return 60.0 * (self.fresh_hold_minutes if fresh or frozen else self.hold_minutes)


def load(db: sqlite_utils.Database) -> ParcelSettings:
    row = next(db.query("select value from meta where key = ?", [KEY]), None)
    return ParcelSettings.model_validate_json(row["value"]) if row else ParcelSettings()


def save(db: sqlite_utils.Database, settings: ParcelSettings) -> None:
    db["meta"].upsert({"key": KEY, "value": json.dumps(settings.model_dump(), ensure_ascii=False)},
                      pk="key")
