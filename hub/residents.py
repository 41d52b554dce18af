"""Residents and households for the office: CSV import (all or nothing), export, search,
and passes issued from the resident list.

The office keeps full name and phone here (it has to phone people); screens mask them.
An ID number is never stored: only the keyed person reference and a masked form.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.households import household_key
from gatehouse.identity import normalize_id, person_ref
from gatehouse.privacy import mask_id, mask_name, mask_phone
from hub.compound import Compound, HubError

# Column names the import accepts, Chinese or English, mapped to ours.
HEADERS = {
    "building": "building", "楼号": "building", "楼": "building",
    "unit": "unit", "单元": "unit",
    "room": "room", "房号": "room", "室": "room",
    "name": "name", "姓名": "name",
    "phone": "phone", "电话": "phone", "手机": "phone", "手机号": "phone",
    "id_number": "id_number", "身份证号": "id_number", "证件号": "id_number",
}
REQUIRED = ("building", "room", "name", "id_number")
EXPORT_FIELDS = ["building", "unit", "room", "household", "name", "phone", "id_masked",
                 "pass_id"]
MAX_ROWS = 20000
_PLACE = re.compile(r"^[A-Za-z0-9\u4e00-\u9fff-]{1,12}$")
_PHONE = re.compile(r"^(1\d{10}|0\d{9,11})$")


@dataclass(frozen=True)
class RowError:
    line: int          # the line in the file (the header is line 1)
    field: str
    message: str

    def __str__(self) -> str:
        return f"第{self.line}行 line {self.line}, {self.field}: {self.message}"


@dataclass
class Parsed:
    rows: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


def parse_csv(text: str, binding_key: bytes) -> Parsed:
    """Check every row; an error names its line and field. Nothing is written here."""
    out = Parsed()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        out.errors.append(RowError(1, "header", "文件是空的 the file is empty"))
        return out
    cols = [HEADERS.get(h.strip().lower(), HEADERS.get(h.strip())) for h in header]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        out.errors.append(RowError(1, ",".join(missing), "缺少列 missing column(s)"))
        return out
    seen: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(out.rows) + len(out.errors) >= MAX_ROWS:
            out.errors.append(RowError(line, "file", f"more than {MAX_ROWS} rows"))
            break
        raw = {c: (values[i].strip() if i < len(values) else "")
               for i, c in enumerate(cols) if c}
        row, errors = _check_row(raw, line, binding_key)
        if not errors and row["person_ref"] in seen:
            errors.append(RowError(line, "id_number",
                                   f"与第{seen[row['person_ref']]}行重复 same person as "
                                   f"line {seen[row['person_ref']]}"))
        if errors:
            out.errors += errors
        else:
            seen[row["person_ref"]] = line
            out.rows.append(row)
    return out


def _check_row(raw: dict, line: int, binding_key: bytes) -> tuple[dict, list[RowError]]:
    errors = []

    def bad(f: str, message: str) -> None:
        errors.append(RowError(line, f, message))

    for f in REQUIRED:
        if not raw.get(f):
            bad(f, "不能为空 is empty")
    for f in ("building", "unit", "room"):
        if raw.get(f) and not _PLACE.match(raw[f]):
            bad(f, "只能是1-12位字母、数字或- letters, digits or - (1-12)")
    if raw.get("name") and len(raw["name"]) > 40:
        bad("name", "太长 longer than 40 characters")
    phone = re.sub(r"[\s-]", "", raw.get("phone", ""))
    if phone and not _PHONE.match(phone):
        bad("phone", "不是有效的电话号码 not a valid phone number (11-digit mobile or 0…)")
    ref = id_norm = None
    if raw.get("id_number"):
        try:
            id_norm = normalize_id(raw["id_number"])
            ref = person_ref(binding_key, id_norm).hex()
        except ValueError as exc:
            bad("id_number", f"身份证号无效 invalid ID number: {exc}")
    if errors:
        return {}, errors
    unit = raw.get("unit") or None
    return {"building": raw["building"], "unit": unit, "room": raw["room"],
            "household": household_key(raw["building"], unit, raw["room"]),
            "name": raw["name"], "phone": phone or None, "person_ref": ref,
            "id_masked": mask_id(id_norm), "_id": id_norm, "line": line}, []


def preview(db: sqlite_utils.Database, parsed: Parsed) -> list[dict]:
    """Each good row, masked, marked new or an update of someone already on file."""
    known = {r["person_ref"] for r in db.query("select person_ref from residents")}
    return [{"line": r["line"], "household": r["household"], "name": mask_name(r["name"]),
             "phone": mask_phone(r["phone"]) if r["phone"] else "",
             "action": "update" if r["person_ref"] in known else "new"} for r in parsed.rows]


def import_rows(compound: Compound, parsed: Parsed, at: int,
                issue_passes: bool = False) -> dict:
    """Write every row (new or update by person) in one transaction, or none.

    With issue_passes, each imported person without a valid pass gets one, in the same
    transaction: the ID number is at hand only now and is not kept.
    """
    if parsed.errors:
        raise HubError(f"{len(parsed.errors)} row(s) have errors: nothing imported")
    db = compound.db
    counts = {"new": 0, "update": 0, "passes": 0}
    with write_transaction(db):
        for r in parsed.rows:
            doc = {k: r[k] for k in ("building", "unit", "room", "household", "name", "phone",
                                     "person_ref", "id_masked")}
            existing = next(db.query("select id from residents where person_ref = ?",
                                     [r["person_ref"]]), None)
            if existing:
                db["residents"].update(existing["id"], {**doc, "updated_at": at})
                rid = existing["id"]
                counts["update"] += 1
            else:
                rid = db["residents"].insert({**doc, "added_at": at, "updated_at": at}).last_pk
                counts["new"] += 1
            if issue_passes and not current_pass(db, r["person_ref"], r["household"], at):
                issue(compound, rid, r["_id"], at)
                counts["passes"] += 1
    return counts


def current_pass(db: sqlite_utils.Database, ref: str, household: str, at: int) -> str | None:
    row = next(db.query(
        "select id from issued_codes where kind = 'pass' and person_ref = ? and household = ? "
        "and revoked_at is null and expires_at > ? order by issued_at desc limit 1",
        [ref, household, at]), None)
    return row["id"] if row else None


def get(db: sqlite_utils.Database, resident_id: int) -> dict | None:
    return next(db.query("select * from residents where id = ?", [resident_id]), None)


def issue(compound: Compound, resident_id: int, id_number: str, at: int) -> str:
    """Issue a pass for a resident on file; the ID number must be the one imported."""
    r = get(compound.db, resident_id)
    if r is None:
        raise HubError(f"no resident {resident_id}")
    try:
        ref = person_ref(compound.binding_key, id_number).hex()
    except ValueError as exc:
        raise HubError(f"身份证号无效 invalid ID number: {exc}") from None
    if ref != r["person_ref"]:
        raise HubError("身份证号与登记的不一致 the ID number is not the one on file")
    text = compound.issue_pass(id_number, r["name"], r["building"], r["room"], at, r["unit"])
    pass_id = next(compound.db.query(
        "select id from issued_codes where person_ref = ? order by rowid desc limit 1",
        [ref]))["id"]
    compound.db["pass_texts"].insert({"pass_id": pass_id, "resident_id": resident_id,
                                      "text": text})
    return pass_id


def search(db: sqlite_utils.Database, q: str = "", building: str = "", limit: int = 200,
           at: int | None = None) -> list[dict]:
    """By name (full or masked), room or household, phone (digits or masked), building."""
    where, args = [], []
    q = (q or "").strip()
    if building:
        where.append("building = ?")
        args.append(building)
    if q:
        digits = re.sub(r"\D", "", q)
        like = q.replace("*", "_")   # 张*三 matches 张三三 and 张某三
        parts = ["name like ?", "household like ?", "room = ?"]
        args += [f"%{like}%", f"%{q}%", q]
        if digits and len(digits) >= 4:
            parts.append("phone like ?")
            args.append(f"%{digits}%" if "*" not in q else
                        digits[:3] + "%" + digits[-4:])
        where.append("(" + " or ".join(parts) + ")")
    sql = "select * from residents" + (" where " + " and ".join(where) if where else "")
    rows = list(db.query(sql + " order by building, unit, room, id limit ?", [*args, limit]))
    for r in rows:
        r["pass_id"] = current_pass(db, r["person_ref"], r["household"], at) if at else None
    return rows


def masked(row: dict) -> dict:
    """A resident as the screen shows it by default."""
    return {**row, "name": mask_name(row["name"]),
            "phone": mask_phone(row["phone"]) if row.get("phone") else ""}


def buildings(db: sqlite_utils.Database) -> list[str]:
    return [r["building"] for r in db.query(
        "select distinct building from residents order by length(building), building")]
