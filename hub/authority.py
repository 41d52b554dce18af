"""A stand-in health / telecom authority for the demo and the tests.

Real health and itinerary codes come from outside authorities; this one mints them
with its own key, and a gate accepts them only once the hub has added that key to
the trust list (`hub authority init` does both).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gatehouse import codes
from gatehouse.codes.keys import SigningKey, TrustedKey
from gatehouse.codes.kinds import CodeKind, Colour, Health, Itinerary, Vaccination
from gatehouse.home import Home
from gatehouse.identity import person_ref
from gatehouse.privacy import mask_name
from hub.compound import HubError, ensure_binding_key

AUTHORITY_KINDS = frozenset({CodeKind.HEALTH, CodeKind.ITINERARY})
HOUR = 3600


@dataclass
class TestAuthority:
    __test__ = False  # not a pytest class, despite the name
    key: SigningKey
    binding_key: bytes
    name: str = "测试卫健委 test health authority"

    @classmethod
    def create(cls, home: Home) -> TestAuthority:
        if home.authority_key.exists():
            raise HubError(f"a test authority already exists in {home.root}")
        binding = ensure_binding_key(home)
        key = SigningKey.generate()
        key.save(home.authority_key)
        return cls(key, binding)

    @classmethod
    def open(cls, home: Home) -> TestAuthority:
        if not home.authority_key.exists():
            raise HubError(f"no test authority in {home.root}: run `hub authority init`")
        return cls(SigningKey.load(home.authority_key), ensure_binding_key(home))

    def trusted_key(self) -> TrustedKey:
        return self.key.trusted(self.name, AUTHORITY_KINDS)

    def _ref(self, person_id: str) -> bytes:
        try:
            return person_ref(self.binding_key, person_id)
        except ValueError as exc:
            raise HubError(str(exc)) from None

    def health(self, person_id: str, colour: Colour, at: int, tested_at: int | None = None,
               vaccination: Vaccination = Vaccination.PRIMARY, doses: int = 2,
               name: str | None = None, hours: int = 24) -> str:
        """A health code valid for `hours` from `at`."""
        claims = Health(self._ref(person_id), colour, tested_at, vaccination, doses,
                        mask_name(name) or None)
        return codes.encode(claims, self.key, at, at + hours * HOUR)

    def itinerary(self, person_id: str, places: Sequence[str], star: bool, at: int,
                  hours: int = 24) -> str:
        """An itinerary code of the last 14 days' places."""
        claims = Itinerary(self._ref(person_id), tuple(p for p in places if p), star)
        try:
            return codes.encode(claims, self.key, at, at + hours * HOUR)
        except ValueError as exc:
            raise HubError(str(exc)) from None
