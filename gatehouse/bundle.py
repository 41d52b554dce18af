"""The signed bundle the hub sends every gate: policy, building statuses, revocations, keys.

One versioned document, signed by the hub (COSE_Sign1, Ed25519), so that no other
device on the network can change what a gate decides. A gate applies a bundle only
when the hub's signature holds and its version is newer than the one it runs.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cbor2

from gatehouse.codes import cose
from gatehouse.codes.keys import SigningKey, TrustedKey, TrustList
from gatehouse.policy.decide import GateState
from gatehouse.policy.model import BuildingStatus, Policy

MAX_BUNDLE_BYTES = 8 * 1024 * 1024  # a 12,000-resident roster is ~1 MB


class BundleError(ValueError):
    """A bundle that must not be applied, with the reason."""


@dataclass(frozen=True)
class Volunteer:
    """A gate volunteer as every kiosk knows them: masked name, PIN hash, role."""

    id: str
    name: str
    pin_hash: str
    role: str = "volunteer"   # or "lead"


@dataclass(frozen=True)
class RosterEntry:
    """A resident with a valid pass, as the gate's manual look-up needs them."""

    ref: str          # roster_ref(roster_key, ID number), hex
    person_ref: str   # the codes' person_ref, hex: the same history as when scanned
    pass_id: str
    name: str         # masked
    household: str
    building: str


@dataclass(frozen=True)
class Bundle:
    version: int
    issued_at: int
    compound: str
    policy: Policy
    buildings: Mapping[str, BuildingStatus] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()
    trusted: tuple[TrustedKey, ...] = ()
    volunteers: tuple[Volunteer, ...] = ()
    roster_key: str = ""                      # hex; hashes a keyed-in ID number
    roster: tuple[RosterEntry, ...] = ()

    def roster_entry(self, ref: str) -> RosterEntry | None:
        return next((r for r in self.roster if r.ref == ref), None)

    def trust_list(self) -> TrustList:
        return TrustList.of(*self.trusted)

    def gate_state(self, now: float, clock_trusted: bool,
                   confirmed_at: float | None = None) -> GateState:
        """The state a decision needs. The data's age counts from the later of the
        bundle's issue and the hub's last word that it is still current."""
        fresh_as_of = max(self.issued_at, confirmed_at or 0)
        age = max(0.0, now - fresh_as_of) if clock_trusted else None
        return GateState(self.policy, dict(self.buildings), self.revoked, clock_trusted, age)

    def to_json(self) -> dict:
        return {
            "version": self.version, "issued_at": self.issued_at, "compound": self.compound,
            "policy": self.policy.to_json(),
            "buildings": {b: s.value for b, s in sorted(self.buildings.items())},
            "revoked": sorted(self.revoked),
            "trusted": [k.to_json() for k in self.trusted],
            "volunteers": [v.__dict__ for v in self.volunteers],
            "roster_key": self.roster_key,
            "roster": [[r.ref, r.person_ref, r.pass_id, r.name, r.household, r.building]
                       for r in self.roster],
        }

    @classmethod
    def from_json(cls, doc: Mapping) -> Bundle:
        try:
            return cls(
                version=_int(doc["version"]), issued_at=_int(doc["issued_at"]),
                compound=str(doc["compound"]),
                policy=Policy.from_json(dict(doc["policy"])),
                buildings={str(b): BuildingStatus(s) for b, s in doc["buildings"].items()},
                revoked=frozenset(str(r) for r in doc["revoked"]),
                trusted=tuple(TrustedKey.from_json(dict(k)) for k in doc["trusted"]),
                volunteers=tuple(Volunteer(str(v["id"]), str(v["name"]), str(v["pin_hash"]),
                                           str(v["role"]))
                                 for v in doc.get("volunteers", ())),
                roster_key=str(doc.get("roster_key", "")),
                roster=tuple(RosterEntry(*(str(x) for x in r)) for r in doc.get("roster", ())))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"bundle content is invalid: {exc}") from None


def _int(v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError("expected an integer")
    return v


def seal(bundle: Bundle, key: SigningKey) -> bytes:
    """Sign a bundle with the hub's key."""
    return cose.sign1(cbor2.dumps(bundle.to_json()), key)


def unseal(blob: bytes, hub: TrustedKey) -> Bundle:
    """Verify a bundle against the hub's public key; BundleError when it must be refused."""
    try:
        doc = cose.open_signed(blob, hub, MAX_BUNDLE_BYTES, "bundle")
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    if not isinstance(doc, Mapping):
        raise BundleError("bundle content is not a map")
    return Bundle.from_json(doc)


def newer(candidate: Bundle, current: Bundle | None) -> bool:
    """Whether a verified bundle should replace the one a gate runs (never go back)."""
    return current is None or candidate.version > current.version


def seal_time(now: float, key: SigningKey, bundle_version: int = 0) -> bytes:
    """The hub's signed time beacon: gates learn from it how far off their clock is,
    and that the bundle version they run is still the current one."""
    return cose.sign1(cbor2.dumps({"t": float(now), "v": int(bundle_version)}), key)


def unseal_time(blob: bytes, hub: TrustedKey) -> tuple[float, int]:
    """The hub time and current bundle version in a beacon; BundleError if not the hub's."""
    try:
        doc = cose.open_signed(blob, hub, 1024, "time beacon")
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    t = doc.get("t") if isinstance(doc, Mapping) else None
    v = doc.get("v", 0) if isinstance(doc, Mapping) else 0
    if not isinstance(t, float) or isinstance(v, bool) or not isinstance(v, int):
        raise BundleError("time beacon without a time")
    return t, v
