"""A group purchase's order list, as the leader has it, read into orders per household.

A WeChat 接龙 chain pasted as text, or a 快团团 (KTT) order export (CSV in UTF-8, UTF-8
with BOM or GBK; .xlsx). Pure: every line either becomes an order for a household or an
error naming its line, field and reason (no silent drops); lines of one household are
merged and said so in a notice. hub.parcels.groupbuy imports the result.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

from gatehouse.households import household_key
from hub import xlsx
from hub.parcels.orderlines import (
    BRACKETED,
    CANCEL,
    IGNORED,
    MONEY,
    clean,
    find_phone,
    find_room,
    product_of,
    read_token,
    tokens,
)
from hub.residents import RowError

MAX_LINES = 5000
MAX_QTY = 999
DEFAULT_ITEM = "团购商品"


class UnreadableFile(ValueError):
    """A file that is no order list we can read; the text says why."""


@dataclass
class Order:
    line: int                          # the first line (or row) of this household
    household: str                     # building-unit-room (gatehouse/households.py)
    building: str
    name: str
    phone: str | None
    items: list[tuple[str, int]]
    note: str = ""
    lines: tuple[int, ...] = ()        # every line merged into this order

    @property
    def pieces(self) -> int:
        return sum(q for _, q in self.items)

    @property
    def item_text(self) -> str:
        """'蔬菜包×2，鸡蛋×1': what the parcel's label says."""
        return "，".join(f"{n}×{q}" for n, q in self.items)


@dataclass
class Parsed:
    orders: list[Order] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    title: str = ""                    # the chain's title line, when it has one
    source: str = ""                   # "jielong" or "ktt"

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.orders)


# 接龙 -------------------------------------------------------------------------------

_ORDINAL = re.compile(r"^\s*\d{1,4}(?:\s*[.、:)]|\s|$)")
_NUMBERED = re.compile(r"^\s*\d{1,4}\s*[.、:)](?!\d)")
_EXAMPLE = re.compile(r"^(例|例如|示例|格式|举例|模板)\s*[:：\s]")


@dataclass
class _Line:
    line: int
    household: tuple[str, str | None, str]
    name: str
    phone: str | None
    items: list[tuple[str | None, int]]
    words: list[str]
    notes: list[str]
    cancel: bool = False


def parse_jielong(text: str, known: set[str] | None = None,
                  default_item: str | None = None) -> Parsed:
    """A WeChat 接龙 chain: '#接龙', a title, then one numbered line per household."""
    out = Parsed(source="jielong")
    lines = text.lstrip("\ufeff").splitlines()
    if len(lines) > MAX_LINES:
        out.errors.append(RowError(1, "file", f"超过{MAX_LINES}行 more than {MAX_LINES} lines"))
        return out
    header: list[int] = []
    entries: list[_Line] = []
    for no, raw in enumerate(lines, 1):
        s = clean(raw)
        if not re.search(r"[0-9A-Za-z\u4e00-\u9fff]", s):
            continue                                   # blank, or only emoji / dashes
        if _EXAMPLE.match(s) or (not entries and s.startswith("#")):
            header.append(no)
            continue
        numbered = bool(_NUMBERED.match(s))
        phone, s = find_phone(s)          # first: 138-1234-5678 is no room
        room = find_room(s)
        if room is None and not entries and not numbered:
            header.append(no)
            if not out.title:
                out.title = re.sub(r"\s+", " ", s)[:80]
            continue
        entry = _read_line(no, s, room, phone, out.errors)
        if entry:
            entries.append(entry)
    if header:
        out.notices.append(f"第{_span(header)}行是接龙标题或示例，不是订单 "
                           f"line(s) {_span(header)}: the chain's title or example, not orders")
    product = (default_item or "").strip() or product_of(out.title) or DEFAULT_ITEM
    _finish(out, _resolve_words(entries, product, out.notices), known)
    return out


def _read_line(no: int, s: str, room, phone: str | None,
               errors: list[RowError]) -> _Line | None:
    if room is None:
        errors.append(RowError(no, "room", "找不到楼号房号（如 7-2-301、7栋2单元301） "
                                           "no building/room found (e.g. 7-2-301)"))
        return None
    building, unit, r, m = room
    before, after = s[:m.start()], s[m.end():]
    entry = _Line(no, (building, unit, r), "", phone, [], [], [])
    for t in tokens(_ORDINAL.sub("", before, count=1) + " " + after):
        if BRACKETED.match(t):                         # (放门口): a note
            t = t[1:-1].strip()
            if t in CANCEL:
                entry.cancel = True
            elif t:
                entry.notes.append(t)
        elif t in CANCEL:
            entry.cancel = True
        elif MONEY.match(t) or t in IGNORED:
            continue
        elif (items := read_token(t)) is not None:
            entry.items += items
        else:
            entry.words.append(t)
    bad = [q for _, q in entry.items if not 1 <= q <= MAX_QTY]
    if bad:
        errors.append(RowError(no, "quantity", f"数量应为1–{MAX_QTY} quantity must be "
                                               f"1–{MAX_QTY}: {bad[0]}"))
        return None
    return entry


def _resolve_words(entries: list[_Line], product: str, notices: list[str]) -> list[_Line]:
    """Words without a quantity: a product the chain names elsewhere counts one; the
    first other word is the name; further words are items of one (and said so)."""
    named: dict[str, set[int]] = {product: {0}}
    for e in entries:
        for n, _ in e.items:
            if n:
                named.setdefault(n, set()).add(e.line)
    vocab = set(named)
    for e in entries:
        e.items = [(n or product, q) for n, q in e.items]
        for w in e.words:
            if w in vocab:
                e.items.append((w, 1))
            elif not e.name and not re.search(r"\d", w) and len(w) <= 20:
                e.name = w
            else:
                e.items.append((w, 1))
                notices.append(f"第{e.line}行：「{w}」没有数量，按1件计 line {e.line}: "
                               f"'{w}' has no quantity, counted as one")
        if not e.name and e.items and named.get(e.items[0][0], set()) <= {e.line}:
            first, q = e.items[0]
            p = next((p for p in sorted(vocab, key=len, reverse=True)
                      if first.endswith(p) and 1 <= len(first) - len(p) <= 4
                      and named[p] - {e.line}), None)
            if p:                                      # '张三蔬菜包×2': name glued on
                e.name, e.items[0] = first[:-len(p)], (p, q)
                notices.append(f"第{e.line}行：「{first}」读作 {e.name} + {p} line {e.line}: "
                               f"'{first}' read as name {e.name} + {p}")
        if not e.items and not e.cancel:
            e.items = [(product, 1)]
            notices.append(f"第{e.line}行没有写数量，按「{product}」1份计 line {e.line}: no "
                           f"quantity, counted as one {product}")
    return entries


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
    _finish(out, _ktt_entries(rows[start + 1:], cols, out), known)
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


def _ktt_entries(rows, cols: dict[str, int], out: Parsed) -> list[_Line]:
    entries: list[_Line] = []
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
        out.notices.append(f"第{_span(skipped)}行已取消或已退款，未导入 line(s) "
                           f"{_span(skipped)}: cancelled or refunded, not imported")
    return entries


def _ktt_row(line: int, v: dict, has_qty: bool, errors: list[RowError]) -> _Line | None:
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
    return _Line(line, (building, unit, r), name[:40], phone, items, [],
                 [note[:100]] if note else [])


# Both formats: households, merging ---------------------------------------------------

def _finish(out: Parsed, entries: list[_Line], known: set[str] | None) -> None:
    """Households checked against the known set, lines of one household merged."""
    index: dict[tuple[str, str], list[str]] = {}
    for h in known or ():
        parts = h.split("-")
        if len(parts) == 3:
            index.setdefault((parts[0], parts[2]), []).append(h)
    orders: dict[str, Order] = {}
    for e in entries:
        building, unit, room = e.household
        household = household_key(building, unit, room)
        if known is not None and household not in known:
            matches = index.get((building, room), []) if unit is None else []
            if len(matches) == 1:
                out.notices.append(f"第{e.line}行：{household} 按居民名单记为 {matches[0]} "
                                   f"line {e.line}: {household} is {matches[0]} on the list")
                household = matches[0]
            elif matches:
                out.errors.append(RowError(e.line, "room", f"{household} 不唯一，请写明单元 "
                                           f"ambiguous, give the unit: {', '.join(matches)}"))
                continue
            else:
                out.errors.append(RowError(e.line, "room", f"查无此户 no such household: "
                                                           f"{household}"))
                continue
        if e.cancel:
            dropped = orders.pop(household, None)
            out.notices.append(
                f"第{e.line}行：{household} 取消，" + (f"第{_span(dropped.lines)}行不再导入 "
                                                    if dropped else "此前没有订单 ")
                + f"line {e.line}: {household} cancelled"
                + (f", line(s) {_span(dropped.lines)} dropped" if dropped else
                   ", nothing to cancel"))
            continue
        o = orders.get(household)
        if o is None:
            orders[household] = Order(e.line, household, household.split("-")[0], e.name,
                                      e.phone, [], "；".join(e.notes), (e.line,))
            o = orders[household]
        else:
            o.lines += (e.line,)
            o.name = o.name or e.name
            o.phone = o.phone or e.phone
            o.note = "；".join(x for x in (o.note, *e.notes) if x)
        for n, q in e.items:
            o.items = _add(o.items, n, q)
    for o in orders.values():
        if len(o.lines) > 1:
            out.notices.append(f"{o.household}：第{_span(o.lines)}行是同一户，已合并 "
                               f"line(s) {_span(o.lines)} are one household, merged")
    out.orders = sorted(orders.values(), key=lambda o: o.line)


def _add(items: list[tuple[str, int]], name: str, qty: int) -> list[tuple[str, int]]:
    for i, (n, q) in enumerate(items):
        if n == name:
            return items[:i] + [(n, q + qty)] + items[i + 1:]
    return items + [(name, qty)]


def _span(lines) -> str:
    return "、".join(str(n) for n in lines)


def parse(data: bytes, filename: str = "", known: set[str] | None = None,
          default_item: str | None = None) -> Parsed:
    """Whichever the leader sent: an Excel or CSV export (快团团), or a 接龙 text."""
    name = (filename or "").lower()
    if data[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0") or name.endswith((".xlsx", ".xls")):
        return parse_ktt(data, filename, known)
    try:
        text = decode(data)
    except UnreadableFile as exc:
        return Parsed(errors=[RowError(1, "file", str(exc))])
    if name.endswith(".csv") or _looks_like_export(text):
        return parse_ktt(data, filename, known)
    return parse_jielong(text, known, default_item)


def _looks_like_export(text: str) -> bool:
    try:
        return _find_header(_csv_rows("\n".join(text.splitlines()[:10])))[1] is not None
    except csv.Error:
        return False
