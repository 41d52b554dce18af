"""The district's orders, applied as the compound's own office would apply them.

Each order of an OrderList is checked (signed by the district key this hub trusts, for
this compound, sound content), then applied in `seq` order, only when above the last
one applied here: a building sealed, controlled or reopened
(building_status.set_building_status) or a policy template saved as the compound's own
next version (policy_versions.save_policy), by actor `district:<id>`, audited. The
change, its audit row and the order's report are written in one transaction; the bundle
is signed after (a flag in `meta` says one is due, so a hub killed in between publishes
it when it starts again). An order seen again is answered with the report it got the
first time: never applied twice.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils
from pydantic import ValidationError

from gatehouse.codes import cose
from gatehouse.db import write_transaction
from gatehouse.district_wire import (
    Order,
    OrderKind,
    OrderList,
    OrderReport,
    ReportStatus,
    open_order,
)
from gatehouse.policy.diff import diff
from gatehouse.policy.model import BuildingStatus, Policy
from hub import alert_log, audit, building_status, meta, policy_versions
from hub.alert_kinds import AlertKind
from hub.district_config import DistrictConfig

log = logging.getLogger(__name__)
BUNDLE_DUE = "district.bundle_due"
STATUS_OF = {OrderKind.SEAL: BuildingStatus.SEALED, OrderKind.CONTROL: BuildingStatus.CONTROLLED,
             OrderKind.REOPEN: BuildingStatus.NORMAL}
_BUILDING = re.compile(r"^[^\x00-\x1f/\\]{1,40}$")


@dataclass(frozen=True)
class Versions:
    bundle: int
    policy: int


def versions(db: sqlite_utils.Database) -> Versions:
    bundle = db.execute("select coalesce(max(version), 0) from bundles").fetchone()[0]
    policy = db.execute("select coalesce(max(version), 0) from policies").fetchone()[0]
    return Versions(bundle, policy)


def last_applied(db: sqlite_utils.Database) -> int:
    return db.execute("select coalesce(max(seq), 0) from district_orders "
                      "where status = 'applied'").fetchone()[0]


def _claimed(text: str) -> dict:
    """What an order that did not open says of itself (never trusted on its own)."""
    try:
        body = cose.strict_loads(cose.parse1(base64.b64decode(text, validate=True)).payload)
        return body if isinstance(body, dict) else {}
    except Exception:
        return {}


def _claimed_seq(text: str) -> int | None:
    """The seq an unverified order claims (for the office's eyes only, never trusted)."""
    seq = _claimed(text).get("seq")
    return seq if isinstance(seq, int) else None


def _signed_by(text: str, trusted) -> bool:
    """The signature is the trusted district's, whatever its payload holds."""
    try:
        msg = cose.parse1(base64.b64decode(text, validate=True))
        return msg.kid == trusted.kid and trusted.verifies(msg.signature, msg.to_be_signed)
    except Exception:
        return False


class OrderDesk:
    """Takes OrderLists for one compound; `publish_bundle(at)` signs the next bundle
    (Compound.publish) and returns its version."""

    def __init__(self, db: sqlite_utils.Database, config: DistrictConfig,
                 publish_bundle: Callable[[int], int]):
        self.db, self.config, self.publish_bundle = db, config, publish_bundle

    @property
    def actor(self) -> str:
        return f"district:{self.config.district}"

    def finish_bundle(self, at: float) -> None:
        """Sign the bundle an applied order left due (a restart between the two)."""
        if meta.get_meta(self.db, BUNDLE_DUE) == "1":
            self.publish_bundle(int(at))
            meta.set_meta(self.db, BUNDLE_DUE, "0")

    def take(self, orders: OrderList, at: float) -> list[OrderReport]:
        """A report for every order of the list, applying those due, in seq order."""
        self.finish_bundle(at)    # one an earlier list left due (its signing failed)
        cfg = self.config
        if orders.compound != cfg.compound or orders.district != cfg.district:
            log.warning("order list of %s for %s on this compound's topic (%s of %s)",
                        orders.district, orders.compound, cfg.compound, cfg.district)
        reports: list[OrderReport] = []
        good: list[Order] = []
        for text in orders.orders:
            order, problem = self._open(text, at)
            if not problem:
                good.append(order)
            elif (seq := self._unreadable_seq(text)) is not None:
                reports.append(self._refuse_unreadable(seq, _claimed(text), problem, at))
            else:
                reports.append(self._report(0, ReportStatus.REFUSED, problem, at))
        for order in sorted(good, key=lambda o: o.seq):
            reports.append(self._one(order, at))
        return reports

    def _open(self, text: str, at: float) -> tuple[Order | None, str]:
        """The order if it is this compound's from its district, else why not. A report
        of an order that cannot be attributed says seq 0 (its claim is in the reason)."""
        cfg = self.config
        if cfg.trusted is None:
            return None, "this compound trusts no district key (hub district trust)"
        try:
            order = open_order(text, cfg.trusted)
        except ValueError as exc:
            if _signed_by(text, cfg.trusted):
                # The district's own signature over what this hub cannot read (a newer
                # district's kind, a bug there): no forgery to alert the office about
                # (docs/security.md D7).
                return None, f"signed by district {cfg.district} but not readable " \
                             f"here: {exc}"[:300]
            claimed = _claimed_seq(text)
            reason = f"not signed by district {cfg.district}: {exc}"[:250] + \
                (f" (claims seq {claimed})" if claimed is not None else "")
            with write_transaction(self.db):
                alert_log.add_alert(self.db, at, "district", AlertKind.DISTRICT_ORDER_FORGED,
                                    "order:" + hashlib.sha256(text.encode()).hexdigest()[:32],
                                    {"reason": reason})
            log.error("district order refused: %s", reason)
            return None, reason
        if order.district != cfg.district:
            return None, f"order of district {order.district}, not {cfg.district}"
        if order.compound != cfg.compound:
            return None, f"order {order.seq} is for compound {order.compound}, not {cfg.compound}"
        return order, ""

    def _unreadable_seq(self, text: str) -> int | None:
        """The seq of a district-signed order for this compound that did not open: it is
        refused under that seq, since the district matches reports by seq and would send
        it every 10 s for ever otherwise (docs/security.md D7)."""
        cfg = self.config
        body = _claimed(text)
        seq = body.get("seq")
        if cfg.trusted is None or not _signed_by(text, cfg.trusted) or \
                body.get("district") != cfg.district or body.get("compound") != cfg.compound \
                or not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= 2**53:
            return None
        return seq

    def _refuse_unreadable(self, seq: int, body: dict, problem: str,
                           at: float) -> OrderReport:
        row = next(self.db.query("select * from district_orders where seq = ?", [seq]), None)
        if row is not None:   # seen before (or applied under that seq): the same answer
            return self._report(row["seq"], ReportStatus(row["status"]), row["reason"] or "",
                                row["at"], Versions(row["bundle_version"] or 0,
                                                    row["policy_version"] or 0))
        kind, building = body.get("kind"), body.get("building")
        v = versions(self.db)
        with write_transaction(self.db):
            self.db["district_orders"].insert({
                "seq": seq, "kind": str(kind)[:40], "status": ReportStatus.REFUSED.value,
                "building": building[:40] if isinstance(building, str) else None,
                "reason": problem, "at": at, "bundle_version": v.bundle,
                "policy_version": v.policy, "reported_at": None})
        return self._report(seq, ReportStatus.REFUSED, problem, at, v)

    def _one(self, order: Order, at: float) -> OrderReport:
        row = next(self.db.query("select * from district_orders where seq = ?", [order.seq]),
                   None)
        if row is not None:   # seen before: the same answer, nothing done again
            return self._report(row["seq"], ReportStatus(row["status"]), row["reason"] or "",
                                row["at"], Versions(row["bundle_version"] or 0,
                                                    row["policy_version"] or 0))
        last = last_applied(self.db)
        if order.seq <= last:
            return self._record(order, ReportStatus.STALE,
                                f"at or below order {last}, the last applied here", at)
        problem = self._content_problem(order)
        if problem:
            return self._record(order, ReportStatus.REFUSED, problem, at)
        return self._apply(order, at)

    def _content_problem(self, order: Order) -> str:
        if order.kind in STATUS_OF:
            if order.building is None or not _BUILDING.match(order.building.strip()):
                return f"{order.kind.value}: a building is needed (1-40 characters, no '/')"
            return ""
        if not isinstance(order.policy, dict):
            return "policy: the order holds no policy document"
        try:
            self._policy(order)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "policy"
            return f"policy: {where}: {first['msg']}"[:300]
        return ""

    def _policy(self, order: Order) -> Policy:
        """The template as this compound's policy: its own version, its zone if unsaid."""
        current = policy_versions.current_policy(self.db)
        doc = {"timezone": current.timezone, **order.policy, "version": current.version}
        return Policy.from_json(doc)

    def _apply(self, order: Order, at: float) -> OrderReport:
        note = f"district order {order.seq} by {order.issued_by}: {order.note}"[:300]
        changed = False
        with write_transaction(self.db):
            if order.kind in STATUS_OF:
                building, status = order.building.strip(), STATUS_OF[order.kind]
                before = building_status.building_statuses(self.db).get(building,
                                                                        BuildingStatus.NORMAL)
                changed = building_status.set_building_status(self.db, building, status,
                                                              int(at), self.actor, note)
                if changed:
                    audit.record(self.db, at, self.actor, "district", "building.status",
                                 building, {"status": before.value},
                                 {"status": status.value, "note": note, "order": order.seq})
            else:
                current = policy_versions.current_policy(self.db)
                new = self._policy(order)
                if diff(current, new):
                    saved = policy_versions.save_policy(self.db, new, int(at), self.actor, note)
                    audit.record(self.db, at, self.actor, "district", "policy.save",
                                 saved.version, current.to_json(),
                                 {**saved.to_json(), "order": order.seq})
                    changed = True
            if changed:
                meta.set_meta(self.db, BUNDLE_DUE, "1")
            report = self._record(order, ReportStatus.APPLIED, "" if changed else "unchanged",
                                  at)
        if changed:
            self.finish_bundle(at)
        v = versions(self.db)
        self.db.execute("update district_orders set bundle_version = ?, policy_version = ? "
                        "where seq = ?", [v.bundle, v.policy, order.seq])
        return report.model_copy(update={"bundle_version": v.bundle,
                                         "policy_version": v.policy})

    def _record(self, order: Order, status: ReportStatus, reason: str,
                at: float) -> OrderReport:
        """The order's outcome, kept: asked again, it gets the same answer."""
        v = versions(self.db)
        with write_transaction(self.db):
            self.db["district_orders"].insert({
                "seq": order.seq, "kind": order.kind.value, "building": order.building,
                "status": status.value, "reason": reason, "at": at,
                "bundle_version": v.bundle, "policy_version": v.policy,
                "reported_at": None})
        return self._report(order.seq, status, reason, at, v)

    def _report(self, seq: int, status: ReportStatus, reason: str, at: float,
                v: Versions | None = None) -> OrderReport:
        v = v or versions(self.db)
        return OrderReport(compound=self.config.compound, seq=seq, status=status,
                           reason=reason[:300], at=at, bundle_version=v.bundle,
                           policy_version=v.policy)
