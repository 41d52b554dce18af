"""Files the district downloads: CSV (any tool) and .xlsx (Excel), same rows, same
masking; identifiers stay text, formula-like texts never run (gatehouse/xlsx_write.py)."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Response

from district.web import core
from gatehouse import xlsx_write
from gatehouse.xlsx_write import csv_safe

TIME_FIELDS = frozenset({"at", "near_at"})
NUMBER_FIELDS = frozenset({"minutes_apart"})


def _local(at: float) -> datetime:
    """A naive local datetime (Excel has no zones), in the district's zone."""
    return datetime.fromtimestamp(at, core.zone()).replace(tzinfo=None)


def csv_file(rows: list[dict], fields: list[str], name: str) -> Response:
    """CSV with a BOM (Excel opens the Chinese right) and local ISO times."""
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    for r in rows:
        w.writerow({f: csv_safe(_local(r[f]).isoformat(timespec="seconds")
                                if f in TIME_FIELDS and r.get(f) is not None else r.get(f))
                    for f in fields})
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def xlsx_file(sheets: list[tuple[str, list[dict], list[str]]], name: str) -> Response:
    """One sheet per (title, rows, fields): every column text except times and counts."""
    tables = [xlsx_write.Table(title, fields, rows,
                               text_fields=frozenset(fields) - TIME_FIELDS - NUMBER_FIELDS,
                               time_fields=TIME_FIELDS & set(fields))
              for title, rows, fields in sheets]
    return Response(xlsx_write.write(tables, _local), mimetype=xlsx_write.MIME,
                    headers={"Content-Disposition": f"attachment; filename={name}"})
