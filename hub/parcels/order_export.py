"""A 快团团 (KTT) order export read into orders: CSV in UTF-8, UTF-8 with BOM or GBK, or
.xlsx (through hub/xlsx.py); one row per order, or per product of an order."""
from __future__ import annotations

import csv
import io
import re
import zipfile

from hub import xlsx
from hub.parcels.order_text import clean, find_phone, find_room
from hub.parcels.orders import MAX_LINES, MAX_QTY, Line, Parsed, UnreadableFile, finish, span
from hub.residents import RowError

# 快团团 (KTT) exports ------------------------------------------------------------------

COLUMNS = {
    "order": ("订单号", "订单编号", "跟团号", "团购订单号"),
    "name": ("收货人", "收件人", "姓名", "提货人", "联系人"),
    "nick": ("团员", "团员昵称", "昵称", "下单人", "买家", "客户", "微信昵称"),
    "phone": ("联系电话", "手机号", "收货人电话", "收货人手机号", "收件人电话", "电话", "手机",
              "联系方式", "手机号码"),
    "address": ("详细地址", "收货地址", "地址", "团员地址", "收件地址", "门牌号", "楼号房号", "房号"),
    "note": ("团员备注", "备注", "买家备注", "订单备注", "留言"),
    "item": ("商品名称", "商品", "商品名", "商品标题", "商品信息", "品名"),
    "spec": ("规格", "商品规格", "规格名称", "sku"),
    "qty": ("数量", "商品数量", "购买数量", "件数", "份数"),
    "status": ("订单状态", "状态"),
    "refund": ("售后状态", "退款状态"),
}
SKIP_STATUS = ("已取消", "取消", "已退款", "退款成功", "全额退款", "已关闭", "交易关闭", "待支付",
               "待付款", "未支付")
_PER_ROW = ("item", "spec", "qty")
_PER_ORDER = ("order", "name", "nick", "phone", "address", "note")
_HEADER = {alias.lower(): (key, rank) for key, aliases in COLUMNS.items()
           for rank, alias in enumerate(aliases)}


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GBK/GB18030 as Excel on Chinese Windows saves."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise UnreadableFile("文件编码无法识别，请存为UTF-8 CSV / cannot read the file's "
                                "encoding: save it as UTF-8 CSV") from None


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text))
    return [(reader.line_num, row) for row in reader]


def _xlsx_rows(data: bytes) -> list[tuple[int, list[str]]]:
    """The first sheet as text, through the hub's one workbook reader (hub/xlsx.py: size
    limits, values only, and every row even where the workbook declares fewer)."""
    try:
        return xlsx.read_rows(data, MAX_LINES + 20).rows   # + title and header rows
    except xlsx.XlsxError as exc:
        raise UnreadableFile(str(exc)) from None


def parse_ktt(data: bytes, filename: str = "", known: set[str] | None = None) -> Parsed:
    """A 快团团 order export: one row per order, or per product of an order."""
    out = Parsed(source="ktt")
    try:
        if data[:4] == b"\xd0\xcf\x11\xe0":
            raise UnreadableFile("旧版 .xls 不支持，请另存为 .xlsx 或 CSV / old .xls files are "
                                "not supported: save as .xlsx or CSV")
        rows = _xlsx_rows(data) if data[:4] == b"PK\x03\x04" else _csv_rows(decode(data))
    except UnreadableFile as exc:
        out.errors.append(RowError(1, "file", str(exc)))
        return out
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, csv.Error) as exc:
        # a damaged workbook or file: say so, do not crash the page
        out.errors.append(RowError(1, "file", f"无法读取文件 cannot read the file: {exc}"))
        return out
    start, cols = _find_header(rows)
    if cols is None:
        out.errors.append(RowError(1, "header", "找不到表头（需要“商品”列和“地址”或“收货人”列） "
                                                "no header row with 商品 and 地址/收货人 columns"))
        return out
    if len(rows) - start > MAX_LINES:
        out.errors.append(RowError(1, "file", f"超过{MAX_LINES}行 more than {MAX_LINES} rows"))
        return out
    out.title = _title_of(rows[:start], filename)
    finish(out, _ktt_entries(rows[start + 1:], cols, out), known)
    return out


def _find_header(rows) -> tuple[int, dict[str, int] | None]:
    """The first row (of ten) naming a product column and somewhere to find the room;
    of two columns for one field the likelier alias wins (收货人 over 团员)."""
    for i, (_, row) in enumerate(rows[:10]):
        found: dict[str, tuple[int, int]] = {}
        for j, h in enumerate(row):
            key, rank = _HEADER.get(clean(h).lower().replace(" ", ""), (None, 0))
            if key and (key not in found or rank < found[key][0]):
                found[key] = (rank, j)
        cols = {k: j for k, (_, j) in found.items()}
        if "item" in cols and ({"address", "name", "nick", "note"} & cols.keys()):
            return i, cols
    return 0, None


def _title_of(rows, filename: str) -> str:
    """A title row above the header ('团购名称：4月13日 水果团'), else the file's name."""
    for _, row in rows:
        text = clean(" ".join(c for c in row if c))
        if text:
            return re.sub(r"^(团购名称|活动名称|团购|标题)\s*[:：]\s*", "", text)[:80]
    return re.sub(r"\.(csv|xlsx|txt)$", "", filename or "", flags=re.IGNORECASE)


def _ktt_entries(rows, cols: dict[str, int], out: Parsed) -> list[Line]:
    entries: list[Line] = []
    skipped: list[int] = []
    by_order: dict[str, tuple[int, dict]] = {}
    seen: dict[tuple, int] = {}
    prev: dict | None = None
    for line, row in rows:
        v = {k: clean(row[j]) if j < len(row) else "" for k, j in cols.items()}
        if not any(v.values()):
            continue
        if re.match(r"^(合计|总计|小计)", clean(row[0]) if row else ""):
            out.notices.append(f"第{line}行是合计行，不是订单 line {line}: a totals row")
            continue
        base = None
        if v.get("order") and v["order"] in by_order:
            base = by_order[v["order"]][1]               # one row per product of an order
        elif prev and not any(v.get(k) for k in _PER_ORDER):
            base = prev                                  # merged cells: the order goes on
        if base:
            v = {**{k: x for k, x in base.items() if k not in _PER_ROW},
                 **{k: x for k, x in v.items() if x or k in _PER_ROW}}
        prev = v
        if v.get("order"):
            by_order.setdefault(v["order"], (line, v))
        status = v.get("status", "") + " " + v.get("refund", "")
        if any(s in status for s in SKIP_STATUS) and "部分" not in status:
            skipped.append(line)
            continue
        entry = _ktt_row(line, v, "qty" in cols, out.errors)
        if entry is None:
            continue
        for n, _ in entry.items:
            key = (v.get("order") or f"row{line}", n)
            if key in seen:
                out.errors.append(RowError(line, "item", f"与第{seen[key]}行重复（同一订单同一商品） "
                                                         f"same order and product as line "
                                                         f"{seen[key]}"))
                entry = None
                break
            seen[key] = line
        if entry:
            entries.append(entry)
    if skipped:
        out.notices.append(f"第{span(skipped)}行已取消或已退款，未导入 line(s) "
                           f"{span(skipped)}: cancelled or refunded, not imported")
    return entries


def _ktt_row(line: int, v: dict, has_qty: bool, errors: list[RowError]) -> Line | None:
    room, where = None, ""
    for f in ("address", "note", "name", "nick"):
        if v.get(f) and (room := find_room(v[f], last=(f == "address"))):
            where = f
            break
    if room is None:
        errors.append(RowError(line, "address", "地址、备注或收货人中找不到楼号房号（如 7-2-301） "
                                                "no building/room in the address, note or name"))
        return None
    building, unit, r, m = room
    if where in ("name", "nick"):
        v = {**v, where: (v[where][:m.start()] + v[where][m.end():]).strip(" -_()")}
    name = v.get("name") or v.get("nick", "")
    phone, _ = find_phone(v.get("phone", ""))
    item = v.get("item", "")
    if not item:
        errors.append(RowError(line, "item", "商品为空 no product"))
        return None
    if has_qty:
        q = v.get("qty", "")
        if not re.fullmatch(r"\d+(\.0+)?", q) or not 1 <= int(float(q)) <= MAX_QTY:
            errors.append(RowError(line, "qty", f"数量应为1–{MAX_QTY}的整数 quantity must be a "
                                                f"whole number 1–{MAX_QTY}: '{q}'"))
            return None
        spec = v.get("spec", "")
        if spec and spec not in ("默认", "默认规格", "-", "无"):
            item = f"{item}（{spec}）"
        items = [(item, int(float(q)))]
    else:
        found = [read_token(t) for t in tokens(item)]
        items = [(n or t, q) for t, f in zip(tokens(item), found) for n, q in (f or [(t, 1)])]
    note = v.get("note", "") if where != "note" else ""
    return Line(line, (building, unit, r), name[:40], phone, items, [],
                 [note[:100]] if note else [])


def looks_like_export(text: str) -> bool:
    try:
        return _find_header(_csv_rows("\n".join(text.splitlines()[:10])))[1] is not None
    except csv.Error:
        return False
