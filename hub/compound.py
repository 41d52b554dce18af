"""A compound's hub: its signing key, database and the bundle it gives the gates.

Every operation here is a library call; hub/cli.py only parses arguments and prints.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from cryptography.hazmat.primitives import serialization

from gatehouse import codes
from gatehouse.bundle import Bundle, RosterEntry, Volunteer, seal
from gatehouse.codes.keys import SigningKey, TrustedKey, TrustList
from gatehouse.codes.kinds import CodeKind, Courier, Pass, Venue, VenueKind
from gatehouse.db import write_transaction
from gatehouse.home import Home, write_atomic, write_private
from gatehouse.identity import BINDING_KEY_BYTES, person_ref, roster_ref
from gatehouse.volunteer_pins import hash_pin
from gatehouse.policy.model import BuildingStatus, Policy
from gatehouse.privacy import mask_name
from hub import building_status, meta, policy_versions, schema

HUB_KINDS = frozenset({CodeKind.PASS, CodeKind.VENUE, CodeKind.COURIER})
DAY = 86400
VALIDITY_DAYS = {CodeKind.PASS: 365, CodeKind.VENUE: 3 * 365, CodeKind.COURIER: 30}


class HubError(Exception):
    """An operation the office asked for that cannot be done, with what to do instead."""


def ensure_binding_key(home: Home, import_from: Path | None = None) -> bytes:
    """The person-binding key shared by all issuers in this home; created once."""
    if home.binding_key.exists():
        return home.binding_key.read_bytes()
    key = Path(import_from).read_bytes() if import_from else os.urandom(BINDING_KEY_BYTES)
    if len(key) < 16:
        raise HubError("the person-binding key must be at least 16 bytes")
    write_private(home.binding_key, key)
    return key


def public_pem(key: SigningKey) -> bytes:
    return key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Compound:
    home: Home
    db: sqlite_utils.Database
    key: SigningKey
    binding_key: bytes

    @classmethod
    def create(cls, home: Home, name: str, at: int, timezone: str = "Asia/Shanghai",
               binding_key_file: Path | None = None) -> Compound:
        """`hub init`: keys, database, the first policy and bundle."""
        if home.hub_key.exists():
            raise HubError(f"a compound already exists in {home.root}")
        policy = Policy(timezone=timezone)  # validates the zone before anything is written
        binding = ensure_binding_key(home, binding_key_file)
        key = SigningKey.generate()
        key.save(home.hub_key)
        write_atomic(home.hub_public, public_pem(key))
        db = schema.open_db(home.hub_db)
        meta.set_meta(db, "compound", name)
        policy_versions.save_policy(db, policy, at, "init", "first policy")
        compound = cls(home, db, key, binding)
        compound.publish(at)
        return compound

    @classmethod
    def open(cls, home: Home) -> Compound:
        if not home.hub_key.exists():
            raise HubError(f"no compound in {home.root}: run `hub init` first")
        if not home.binding_key.exists():
            raise HubError(f"{home.binding_key} is missing: restore it from backup")
        return cls(home, schema.open_db(home.hub_db), SigningKey.load(home.hub_key),
                   home.binding_key.read_bytes())

    @property
    def roster_key(self) -> bytes:
        """The key of the gates' roster hash (created on first use; it travels to the
        gates in the bundle, unlike the binding key)."""
        path = self.home.hub / "roster.key"
        if not path.exists():
            write_private(path, os.urandom(32))
        return path.read_bytes()

    @property
    def name(self) -> str:
        return meta.get_meta(self.db, "compound", "")

    def hub_trusted_key(self) -> TrustedKey:
        return self.key.trusted(self.name, HUB_KINDS)

    # Issuing ------------------------------------------------------------------

    def _issue(self, claims, at: int, days: int | None, row: dict) -> str:
        days = days or VALIDITY_DAYS[claims.KIND]
        try:
            text = codes.encode(claims, self.key, at, at + days * DAY)
        except ValueError as exc:
            raise HubError(str(exc)) from None
        code = codes.verify(text, self.bundle_trust(), at)
        self.db["issued_codes"].insert({"id": code.id, "kind": claims.KIND.name.lower(),
                                        "issued_at": at, "expires_at": code.exp, **row})
        return text

    def issue_pass(self, person_id: str, name: str, building: str, room: str, at: int,
                   unit: str | None = None, days: int | None = None) -> str:
        """A resident's pass; the household is the room. Keeps no raw ID number."""
        try:
            ref = person_ref(self.binding_key, person_id)
            roster = roster_ref(self.roster_key, person_id)
        except ValueError as exc:
            raise HubError(str(exc)) from None
        claims = Pass(ref, mask_name(name), str(building), unit or None, str(room))
        return self._issue(claims, at, days, {
            "person_ref": ref.hex(), "name": mask_name(name), "building": claims.building,
            "unit": claims.unit, "room": claims.room, "household": claims.household,
            "roster_ref": roster})

    def issue_venue(self, place: str, kind: VenueKind, at: int, name: str | None = None,
                    days: int | None = None) -> str:
        return self._issue(Venue(place, kind, name), at, days,
                           {"place": place, "venue_kind": kind.name.lower(), "name": name})

    def issue_courier(self, name: str, company: str, at: int, days: int | None = None) -> str:
        return self._issue(Courier(mask_name(name), company), at, days,
                           {"name": mask_name(name), "company": company})

    def revoke(self, code_id: str, at: int, note: str = "") -> None:
        """Revoke a pass or badge; gates refuse it from the next bundle on."""
        row = next(self.db.query("select revoked_at from issued_codes where id = ?",
                                 [code_id]), None)
        if row is None:
            raise HubError(f"no code with id {code_id} was issued here")
        if row["revoked_at"] is None:
            self.db["issued_codes"].update(code_id, {"revoked_at": at, "revoke_note": note})
        self.publish(at)

    # Control ------------------------------------------------------------------

    def set_building(self, building: str, status: BuildingStatus, at: int,
                     actor: str = "cli", note: str = "") -> bool:
        changed = building_status.set_building_status(self.db, str(building), status, at,
                                                      actor, note)
        if changed:
            self.publish(at)   # parcels follow in the parcel timers (hub/parcels/worker.py)
        return changed

    def set_policy(self, policy: Policy, at: int, actor: str = "cli", note: str = "") -> Policy:
        saved = policy_versions.save_policy(self.db, policy, at, actor, note)
        self.publish(at)
        return saved

    def trust(self, key: TrustedKey, at: int) -> None:
        """Add an issuer (a health authority) to the list every gate trusts."""
        self.db["trusted_keys"].upsert({
            "kid": key.kid.hex(), "name": key.name,
            "public_key": key.to_json()["public_key"],
            "kinds": json.dumps(sorted(k.name.lower() for k in key.kinds)),
            "added_at": at, "removed_at": None}, pk="kid")
        self.publish(at)

    def trusted_keys(self) -> list[TrustedKey]:
        keys = [self.hub_trusted_key()]
        for r in self.db.query("select * from trusted_keys where removed_at is null"):
            keys.append(TrustedKey.from_json({**r, "kinds": json.loads(r["kinds"])}))
        return keys

    def bundle_trust(self) -> TrustList:
        return TrustList.of(*self.trusted_keys())

    # The bundle ---------------------------------------------------------------

    def build_bundle(self, version: int, at: int) -> Bundle:
        revoked = frozenset(r["id"] for r in self.db.query(
            "select id from issued_codes where revoked_at is not null and expires_at > ?", [at]))
        volunteers = tuple(Volunteer(r["id"], r["name"], r["pin_hash"], r["role"])
                           for r in self.db.query("select * from volunteers where "
                                                  "disabled_at is null order by id"))
        roster = tuple(RosterEntry(r["roster_ref"], r["person_ref"], r["id"], r["name"],
                                   r["household"], r["building"])
                       for r in self.db.query(
                           "select * from issued_codes where kind = 'pass' and roster_ref "
                           "is not null and revoked_at is null and expires_at > ? "
                           "order by roster_ref", [at]))
        return Bundle(version, at, self.name, policy_versions.current_policy(self.db),
                      building_status.building_statuses(self.db), revoked,
                      tuple(self.trusted_keys()),
                      volunteers, self.roster_key.hex(), roster)

    # Volunteers ---------------------------------------------------------------

    def add_volunteer(self, name: str, pin: str, at: int, role: str = "volunteer") -> str:
        """A volunteer who signs in at the gates with a PIN; returns their id."""
        if role not in ("volunteer", "lead"):
            raise HubError("a volunteer's role is volunteer or lead")
        try:
            pin_hash = hash_pin(pin)
        except ValueError as exc:
            raise HubError(str(exc)) from None
        n = next(self.db.query("select count(*) as n from volunteers"))["n"] + 1
        vid = f"v{n:03d}"
        self.db["volunteers"].insert({"id": vid, "name": mask_name(name), "pin_hash": pin_hash,
                                      "role": role, "added_at": at, "disabled_at": None})
        self.publish(at)
        return vid

    def set_volunteer_pin(self, vid: str, pin: str, at: int) -> None:
        try:
            pin_hash = hash_pin(pin)
        except ValueError as exc:
            raise HubError(str(exc)) from None
        if not self.db["volunteers"].count_where("id = ?", [vid]):
            raise HubError(f"no volunteer {vid}")
        self.db["volunteers"].update(vid, {"pin_hash": pin_hash})
        self.publish(at)

    def disable_volunteer(self, vid: str, at: int) -> None:
        if not self.db["volunteers"].count_where("id = ?", [vid]):
            raise HubError(f"no volunteer {vid}")
        self.db["volunteers"].update(vid, {"disabled_at": at})
        self.publish(at)

    def publish(self, at: int) -> Bundle:
        """Sign the next bundle version and put it where gates (and the broker) get it."""
        with write_transaction(self.db):
            last = next(self.db.query("select max(version) as v from bundles"))["v"] or 0
            bundle = self.build_bundle(last + 1, at)
            blob = seal(bundle, self.key)
            self.db["bundles"].insert({"version": bundle.version, "issued_at": at,
                                       "policy_version": bundle.policy.version,
                                       "sha256": hashlib.sha256(blob).hexdigest()})
            write_atomic(self.home.hub_bundle, blob)
        return bundle
