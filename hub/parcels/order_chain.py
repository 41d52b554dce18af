"""A WeChat 接龙 chain pasted as text, read into orders: '#接龙', a title, then one
numbered line per household (the words of a line: hub/parcels/order_text.py)."""
from __future__ import annotations

import re

from hub.parcels.order_text import (
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
from hub.parcels.orders import DEFAULT_ITEM, MAX_LINES, MAX_QTY, Line, Parsed, finish, span
from hub.residents import RowError

# 接龙 -------------------------------------------------------------------------------

_ORDINAL = re.compile(r"^\s*\d{1,4}(?:\s*[.、:)]|\s|$)")
_NUMBERED = re.compile(r"^\s*\d{1,4}\s*[.、:)](?!\d)")
_EXAMPLE = re.compile(r"^(例|例如|示例|格式|举例|模板)\s*[:：\s]")


def parse_jielong(text: str, known: set[str] | None = None,
                  default_item: str | None = None) -> Parsed:
    """A WeChat 接龙 chain: '#接龙', a title, then one numbered line per household."""
    out = Parsed(source="jielong")
    lines = text.lstrip("\ufeff").splitlines()
    if len(lines) > MAX_LINES:
        out.errors.append(RowError(1, "file", f"超过{MAX_LINES}行 more than {MAX_LINES} lines"))
        return out
    header: list[int] = []
    entries: list[Line] = []
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
        out.notices.append(f"第{span(header)}行是接龙标题或示例，不是订单 "
                           f"line(s) {span(header)}: the chain's title or example, not orders")
    product = (default_item or "").strip() or product_of(out.title) or DEFAULT_ITEM
    finish(out, _resolve_words(entries, product, out.notices), known)
    return out


def _read_line(no: int, s: str, room, phone: str | None,
               errors: list[RowError]) -> Line | None:
    if room is None:
        errors.append(RowError(no, "room", "找不到楼号房号（如 7-2-301、7栋2单元301） "
                                           "no building/room found (e.g. 7-2-301)"))
        return None
    building, unit, r, m = room
    before, after = s[:m.start()], s[m.end():]
    entry = Line(no, (building, unit, r), "", phone, [], [], [])
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


def _resolve_words(entries: list[Line], product: str, notices: list[str]) -> list[Line]:
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
