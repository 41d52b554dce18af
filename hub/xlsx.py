""".xlsx files from the office: read a workbook's first sheet as text rows (writing them is
gatehouse/xlsx_write.py's, shared with the district's page).

Reading never runs a formula: a formula cell gives the value Excel saved with it, and one
saved without a value is an error of its row. A workbook is a zip: its unpacked size is
checked before openpyxl opens it, so a small file cannot unpack into gigabytes.
"""
from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

import openpyxl
from openpyxl.utils import get_column_letter

MAX_UNPACKED = 64 * 1024 * 1024      # bytes of XML and parts a workbook may unpack to
MAX_COLUMNS = 64                     # columns read per row; the office's lists have ~10
_EXACT_DIGITS = 15                   # Excel keeps 15 significant digits of a number


class XlsxError(ValueError):
    """A file that is not a workbook this module can read (the message says why)."""


@dataclass
class SheetRows:
    """A sheet as text: (row number, cells) for every row, and the cells it refused."""

    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    errors: list[tuple[int, int, str]] = field(default_factory=list)  # row, column, why


def is_xlsx(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def is_old_xls(data: bytes) -> bool:
    return data[:4] == b"\xd0\xcf\x11\xe0"


def read_rows(data: bytes, max_rows: int) -> SheetRows:
    """The first sheet's rows as stripped text, numbered as Excel numbers them.

    Raises XlsxError for a damaged, foreign or oversized workbook, or over `max_rows`
    rows; a single bad cell is an entry in `errors` and the rest is read.
    """
    if is_old_xls(data):
        raise XlsxError("旧版 .xls 不支持，请另存为 .xlsx 或 CSV / old .xls files are not "
                        "supported: save as .xlsx or CSV")
    if not is_xlsx(data):
        raise XlsxError("不是 .xlsx 文件 not an .xlsx file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile as exc:
        raise XlsxError(f"文件已损坏 the file is damaged: {exc}") from None
    if unpacked > MAX_UNPACKED:
        raise XlsxError(f"文件解压后过大（{unpacked // 2**20} MiB） the workbook unpacks to "
                        f"{unpacked // 2**20} MiB, more than {MAX_UNPACKED // 2**20}")
    formulas = _sheet(data, data_only=False, max_rows=max_rows)
    if not any(f for _, cells in formulas for f in cells if f[1] == "f"):
        return _as_text(formulas, None)
    return _as_text(formulas, _sheet(data, data_only=True, max_rows=max_rows))


def _sheet(data: bytes, data_only: bool, max_rows: int) -> list[tuple[int, list[tuple]]]:
    """(row, [(value, data_type), …]) of the first sheet; empty rows are left out."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # openpyxl warns about styles it does not need
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception as exc:   # openpyxl raises many kinds for a damaged workbook
        raise XlsxError(f"无法读取该工作簿 cannot read the workbook: "
                        f"{type(exc).__name__}: {exc}"[:300]) from None
    try:
        if not wb.worksheets:
            raise XlsxError("工作簿没有工作表 the workbook has no sheet")
        out = []
        ws = wb.worksheets[0]
        # The size a workbook declares can be wrong (some tools write A1): openpyxl would
        # stop there and drop the rest. Read what is there, each row to its last cell.
        ws.reset_dimensions()
        # max_col: a row whose one cell sits in column XFD would otherwise be built as
        # 16,384 cells (a 200 KB file took 11 s); every row read counts, empty or not.
        for n, row in enumerate(ws.iter_rows(max_col=MAX_COLUMNS), 1):
            if n > 4 * (max_rows + 1) + 1000:
                raise XlsxError(f"超过{max_rows}行 more than {max_rows} rows")
            cells = [(c.value, getattr(c, "data_type", "n")) for c in row[:MAX_COLUMNS]]
            if any(v not in (None, "") for v, _ in cells):
                if len(out) >= max_rows + 1:      # the header and max_rows rows
                    raise XlsxError(f"超过{max_rows}行 more than {max_rows} rows")
                out.append((getattr(row[0], "row", None) or n, cells))
        return out
    except XlsxError:
        raise
    except Exception as exc:
        raise XlsxError(f"无法读取该工作表 cannot read the sheet: "
                        f"{type(exc).__name__}: {exc}"[:300]) from None
    finally:
        wb.close()


def _as_text(rows, cached) -> SheetRows:
    out = SheetRows()
    saved = {n: cells for n, cells in cached} if cached is not None else {}
    for n, cells in rows:
        texts = []
        for col, (value, kind) in enumerate(cells, 1):
            if kind == "f":
                got = saved.get(n, [])
                value = got[col - 1][0] if col - 1 < len(got) else None
                if value is None:
                    out.errors.append((n, col, "公式没有保存的结果，请复制后“粘贴为数值” a formula "
                                                "with no saved value: paste it as values"))
                    texts.append("")
                    continue
            text, why = cell_text(value)
            if why:
                out.errors.append((n, col, why))
            texts.append(text)
        while texts and not texts[-1]:
            texts.pop()
        out.rows.append((n, texts))
    return out


def cell_text(value) -> tuple[str, str]:
    """A cell as the text the office typed, and why it cannot be trusted (or "")."""
    if value is None:
        return "", ""
    if isinstance(value, bool):
        return str(value).upper(), ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
        if len(str(abs(value))) > _EXACT_DIGITS:
            # Excel stored an 18-digit ID number as a number: its last digits are gone.
            return str(value), ("数字超过15位，Excel已截断末尾几位，请把该列设为文本后重新输入 "
                                "a number longer than 15 digits: Excel cut its last digits; "
                                "format the column as text and type it again")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes"), ""
    text = " ".join(str(value).split())      # line breaks inside a cell become spaces
    return text, ""


def column_name(col: int) -> str:
    return get_column_letter(col)
