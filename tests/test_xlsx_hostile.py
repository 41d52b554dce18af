"""Hostile workbooks that pass the unpacked-size check (found by the attacking review of
session 4): rows whose one cell sits in column XFD made openpyxl build 16,384 cells per
row, and empty-looking rows did not count toward the limit (a 210 KB file took 11 s)."""
from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from hub import xlsx

HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
        b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
TAIL = b"</sheetData></worksheet>"


def workbook_with_sheet(sheet_xml: bytes) -> bytes:
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "房号"])
    raw = io.BytesIO()
    wb.save(raw)
    zin, out = zipfile.ZipFile(io.BytesIO(raw.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in zin.infolist():
            z.writestr(i.filename, sheet_xml if i.filename == "xl/worksheets/sheet1.xml"
                       else zin.read(i.filename))
    return out.getvalue()


def wide_rows(n: int) -> bytes:
    """n rows, each one cell in the sheet's last column (XFD): no value within the 64
    columns read, so no row counts toward max_rows; openpyxl pads each row to 16,384
    cells before hub/xlsx.py slices it to 64."""
    return workbook_with_sheet(HEAD + b"".join(
        b'<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>' % (i, i)
        for i in range(1, n + 1)) + TAIL)


def test_rows_beyond_the_read_columns_still_count_toward_the_limit():
    data = wide_rows(40_000)
    assert len(data) < 250_000                  # a quarter of a megabyte
    with pytest.raises(xlsx.XlsxError, match="more than 5000 rows"):
        xlsx.read_rows(data, 5000)


def test_a_cell_past_the_read_columns_is_not_read():
    rows = xlsx.read_rows(wide_rows(3), 5000).rows
    assert rows == []                          # nothing within the 64 columns read
