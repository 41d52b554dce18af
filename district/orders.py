"""Orders from the street office down to the compounds: made, signed, sent, reported.

An order is a row of `orders` holding its signed form (COSE_Sign1 by the district's
key, gatehouse.district_wire.signed_order). Its `seq` grows by one per compound, and a
hub applies only orders above the last it applied, so two orders made at once for one
compound must never share a number: the compound's row is locked while the next is
taken (and (compound, seq) is unique besides).

Sending: every compound's not-yet-reported orders, oldest first, as one OrderList on
`district.<cid>.down.orders`, when one is made (NOTIFY district_orders) and every 10 s
while any is pending. A hub that was offline gets them all when it returns; one it
already applied it reports `stale`. The report (district/ingest.py) ends the sending.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from district.nats_local import subject_down
from gatehouse.codes.keys import SigningKey
from gatehouse.district_wire import (
    COMPOUND_ID,
    MAX_ORDERS_PER_LIST,
    Order,
    OrderKind,
    OrderList,
    signed_order,
)
from gatehouse.events import dump
from gatehouse.policy import Policy

log = logging.getLogger(__name__)
CHANNEL = "district_orders"
RESEND_S = 10.0
# One sender in the whole district, whichever worker process holds this lock.
_SENDER_LOCK = 0x6A7E_0018


@dataclass(frozen=True)
class Made:
    compound: str
    seq: int
    id: int


def _check(kind: OrderKind, building: str | None, policy: dict[str, Any] | None) -> None:
    if kind is OrderKind.POLICY:
        if policy is None or building is not None:
            raise ValueError("a policy order carries a policy and no building")
        Policy.model_validate(policy)   # a template a hub could not read is refused here
    elif not building or policy is not None:
        raise ValueError(f"a {kind.value} order names one building and no policy")


def create(conn: psycopg.Connection, key: SigningKey, district: str, compound: str,
           kind: OrderKind, issued_by: str, *, building: str | None = None,
           policy: dict[str, Any] | None = None, note: str = "",
           now: float | None = None, template: str | None = None) -> Made:
    """Make, sign and store one order; the sender is told at commit (NOTIFY)."""
    return create_many(conn, key, district, [compound], kind, issued_by, building=building,
                       policy=policy, note=note, now=now, template=template)[0]


def create_many(conn: psycopg.Connection, key: SigningKey, district: str,
                compounds: Iterable[str], kind: OrderKind, issued_by: str, *,
                building: str | None = None, policy: dict[str, Any] | None = None,
                note: str = "", now: float | None = None,
                template: str | None = None) -> list[Made]:
    """The same order to many compounds at once (a policy template, say): one order per
    compound, each with that compound's next seq, all in one transaction."""
    _check(kind, building, policy)
    cids = sorted(set(compounds))
    for cid in cids:
        if not COMPOUND_ID.match(cid):
            raise ValueError(f"bad compound id {cid!r}")
    at = time.time() if now is None else now
    made: list[Made] = []
    with conn.transaction():
        # Sorted, like the workers: two makers lock the compounds in the same order.
        conn.execute("insert into compounds (id) select unnest(%s::text[]) order by 1 "
                     "on conflict (id) do update set id = excluded.id", [cids])
        removed = [r[0] for r in conn.execute(
            "select id from compounds where id = any(%s) and removed_at is not null "
            "order by id", [cids])]
        if removed:   # no login any more: nothing could reach it
            raise ValueError(f"removed from the district: {', '.join(removed)}")
        for cid in cids:
            seq = conn.execute("select coalesce(max(seq), 0) + 1 from orders "
                               "where compound = %s", [cid]).fetchone()[0]
            order = Order(district=district, compound=cid, seq=seq, kind=kind,
                          building=building, policy=policy, issued_at=at,
                          issued_by=issued_by, note=note)
            row = conn.execute(
                "insert into orders (compound, seq, kind, building, policy, signed, "
                "issued_at, issued_by, note, template) values "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
                [cid, seq, kind.value, building,
                 json.dumps(policy, ensure_ascii=False) if policy is not None else None,
                 signed_order(order, key), datetime.fromtimestamp(at, UTC), issued_by,
                 note, template]).fetchone()
            conn.execute("select pg_notify(%s, %s)", [CHANNEL, cid])
            made.append(Made(cid, seq, row[0]))
    return made


# A removed compound's orders were withdrawn when it left (district/compounds.py); this
# also holds back any made in a race with its removal.
_PENDING = ("select compound, signed from orders o where status = 'pending' and "
            "(%s::text[] is null or compound = any(%s::text[])) and not exists "
            "(select 1 from compounds c where c.id = o.compound and c.removed_at is not null) "
            "order by compound, seq")


def _lists(district: str, rows: list[tuple[str, str]]) -> list[OrderList]:
    by: dict[str, list[str]] = {}
    for cid, signed in rows:
        if len(by.setdefault(cid, [])) < MAX_ORDERS_PER_LIST:
            by[cid].append(signed)
    return [OrderList(district=district, compound=cid, orders=signed)
            for cid, signed in by.items()]


def pending_lists(conn: psycopg.Connection, district: str,
                  compounds: Iterable[str] | None = None) -> list[OrderList]:
    """Each compound's pending orders (oldest first, at most one list's worth)."""
    only = sorted(set(compounds)) if compounds is not None else None
    return _lists(district, conn.execute(_PENDING, [only, only]).fetchall())


async def send_pending(nc, conn: psycopg.AsyncConnection, district: str,
                       compounds: Iterable[str] | None = None) -> int:
    """Publish the pending orders' lists; how many lists went."""
    only = sorted(set(compounds)) if compounds is not None else None
    cur = await conn.execute(_PENDING, [only, only])
    lists = _lists(district, await cur.fetchall())
    for order_list in lists:
        await nc.publish(subject_down(order_list.compound, "orders"), dump(order_list))
    if lists:
        await nc.flush()
    return len(lists)


async def send_loop(dsn: str, nc, stop: asyncio.Event, resend_s: float = RESEND_S) -> None:
    """The order sender: waits for the district-wide sender lock, then sends on every
    NOTIFY and every `resend_s` while orders are pending. Returns when `stop` is set."""
    while not stop.is_set():
        try:
            await _send_while_holding(dsn, nc, stop, resend_s)
        except (psycopg.OperationalError, OSError) as exc:
            log.warning("order sender: %s; again in a moment", exc)
            await _wait(stop, 2.0)
        except Exception:   # the broker link, a bug: the sender must outlive it
            log.exception("order sender failed; again in a moment")
            await _wait(stop, 2.0)


async def _send_while_holding(dsn: str, nc, stop: asyncio.Event, resend_s: float) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():   # another process sends while it holds the lock
            cur = await conn.execute("select pg_try_advisory_lock(%s)", [_SENDER_LOCK])
            if (await cur.fetchone())[0]:
                break
            await _wait(stop, resend_s)
        else:
            return
        district = await _district_id(conn)
        await conn.execute(f"listen {CHANNEL}")
        await send_pending(nc, conn, district)
        last_all = time.monotonic()
        while not stop.is_set():
            woken: set[str] = set()
            # Wake at the first NOTIFY (an order reaches its gates in under 2 s), then
            # take what else came within 50 ms: a template to 200 compounds is one pass.
            async for note in conn.notifies(timeout=1.0, stop_after=1):
                woken.add(note.payload)
            if woken:
                async for note in conn.notifies(timeout=0.05):
                    woken.add(note.payload)
                await send_pending(nc, conn, district, woken)
            if time.monotonic() - last_all >= resend_s:
                last_all = time.monotonic()
                await send_pending(nc, conn, district)


async def _district_id(conn: psycopg.AsyncConnection) -> str:
    cur = await conn.execute("select value from district_settings where key = 'district_id'")
    row = await cur.fetchone()
    if row is None:
        raise OSError("no district_id in district_settings: run `district run` or "
                      "`district migrate` first")
    return row[0]


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
