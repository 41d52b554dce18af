"""A group purchase's order list, as the leader has it: whichever was sent, an Excel or
CSV export (快团团, hub/parcels/order_export.py) or a 接龙 text (order_chain.py), read
into orders per household (orders.py). hub.parcels.groupbuy imports the result.
"""
from __future__ import annotations

from hub.parcels.order_chain import parse_jielong
from hub.parcels.order_export import decode, looks_like_export, parse_ktt
from hub.parcels.orders import Order, Parsed, UnreadableFile
from hub.residents import RowError

__all__ = ["Order", "Parsed", "RowError", "parse", "parse_jielong", "parse_ktt"]


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
    if name.endswith(".csv") or looks_like_export(text):
        return parse_ktt(data, filename, known)
    return parse_jielong(text, known, default_item)
