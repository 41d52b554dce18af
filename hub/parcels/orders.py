"""A group purchase's order list read into orders per household: the model both readers
fill (hub/parcels/order_chain.py for a WeChat 接龙 chain, order_export.py for a 快团团
export) and the merge of one household's lines (`finish`). Pure: every line becomes an
order or an error naming its line, field and reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gatehouse.households import household_key
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


@dataclass
class Line:
    line: int
    household: tuple[str, str | None, str]
    name: str
    phone: str | None
    items: list[tuple[str | None, int]]
    words: list[str]
    notes: list[str]
    cancel: bool = False


# Both formats: households, merging ---------------------------------------------------

def finish(out: Parsed, entries: list[Line], known: set[str] | None) -> None:
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
                f"第{e.line}行：{household} 取消，" + (f"第{span(dropped.lines)}行不再导入 "
                                                    if dropped else "此前没有订单 ")
                + f"line {e.line}: {household} cancelled"
                + (f", line(s) {span(dropped.lines)} dropped" if dropped else
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
            out.notices.append(f"{o.household}：第{span(o.lines)}行是同一户，已合并 "
                               f"line(s) {span(o.lines)} are one household, merged")
    out.orders = sorted(orders.values(), key=lambda o: o.line)


def _add(items: list[tuple[str, int]], name: str, qty: int) -> list[tuple[str, int]]:
    for i, (n, q) in enumerate(items):
        if n == name:
            return items[:i] + [(n, q + qty)] + items[i + 1:]
    return items + [(name, qty)]


def span(lines) -> str:
    return "、".join(str(n) for n in lines)
