"""Files the office downloads: CSV (for any tool) and .xlsx (for Excel), same rows, same masking."""
from __future__ import annotations

from datetime import datetime

from flask import Response

from gatehouse import xlsx_write as xlsx
from hub.web import core

# Epoch-second columns that every export shows as the compound's local time.
TIME_FIELDS = frozenset({"at", "from_at", "until_at", "since", "created_at", "near_at",
                         "received_at", "acked_at"})


def local_time(at: float) -> datetime:
    """A naive local datetime (Excel has no zones), in the compound's zone."""
    return datetime.fromtimestamp(at, core.zone()).replace(tzinfo=None)


def csv_file(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def xlsx_file(tables: list[xlsx.Table], name: str) -> Response:
    return Response(xlsx.write(tables, local_time), mimetype=xlsx.MIME,
                    headers={"Content-Disposition": f"attachment; filename={name}",
                             "Cache-Control": "no-store"})


def table(title: str, rows: list[dict], fields: list[str],
          numbers: frozenset[str] = frozenset()) -> xlsx.Table:
    """A sheet where every column is text (identifiers) except times and `numbers`."""
    return xlsx.Table(title, fields, rows,
                      text_fields=frozenset(fields) - TIME_FIELDS - numbers,
                      time_fields=TIME_FIELDS & set(fields))
