""".xlsx files the office downloads (the hub's and the district's pages): tables written
with identifiers kept as text cells (a room `0301`, a landline `02112345678`, an 18-digit
number or a person reference stay as typed) and every text a spreadsheet would run as a
formula (= + - @) marked with Excel's quote prefix: shown and kept as text, never run,
even after the cell is edited. Reading workbooks is hub/xlsx.py's. openpyxl is imported
where a workbook is written, so CSV writers (the audit log) do not load it.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A CSV cell that a spreadsheet will not run: a formula-like text gets a leading '."""
    if isinstance(value, str) and value[:1] in FORMULA_START:
        return "'" + value
    return value


def safe_cell(ws, value, text: bool = False, time_format: str | None = None):
    """One cell: `text` forces a text cell (an identifier); a formula-like text is kept
    as text with Excel's quote prefix."""
    from openpyxl.cell import WriteOnlyCell
    if value is None:
        return WriteOnlyCell(ws, value=None)
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = time_format or "yyyy-mm-dd hh:mm:ss"
        return cell
    if text or isinstance(value, str):
        cell = WriteOnlyCell(ws, value=str(value))
        cell.data_type = "s"                 # never "f": openpyxl would write a formula
        cell.number_format = "@"
        if cell.value[:1] in FORMULA_START:
            cell.quotePrefix = True
        return cell
    return WriteOnlyCell(ws, value=value)


@dataclass
class Table:
    """One sheet: a title, its column keys and headers, and its rows (dicts)."""

    title: str
    fields: list[str]
    rows: Iterable[dict]
    headers: list[str] | None = None
    text_fields: frozenset[str] = frozenset()    # identifiers kept as text even if numbers
    time_fields: frozenset[str] = frozenset()    # epoch seconds shown as local times
    widths: dict[str, int] = field(default_factory=dict)


def write(tables: list[Table], local: Callable[[float], datetime] | None = None) -> bytes:
    """A workbook with one sheet per table; `local` turns epoch seconds into the
    compound's (naive) local time for `time_fields`."""
    import openpyxl
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    wb = openpyxl.Workbook(write_only=True)
    bold = Font(bold=True)
    for t in tables:
        ws = wb.create_sheet(_sheet_title(t.title))
        ws.freeze_panes = "A2"
        for i, f in enumerate(t.fields, 1):
            ws.column_dimensions[get_column_letter(i)].width = t.widths.get(f, 16)
        header = []
        for h in t.headers or t.fields:
            cell = safe_cell(ws, h)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for r in t.rows:
            line = []
            for f in t.fields:
                v = r.get(f)
                if f in t.time_fields and isinstance(v, (int, float)) and local is not None:
                    v = local(v)
                line.append(safe_cell(ws, v, text=f in t.text_fields and v is not None))
            ws.append(line)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title[:31] or "Sheet"
