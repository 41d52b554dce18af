"""Signed codes: the compact QR formats that gates verify offline (docs/codes.md)."""
from gatehouse.codes.format import CodeError, CodeProblem, VerifiedCode, encode, verify
from gatehouse.codes.keys import SigningKey, TrustedKey, TrustList
from gatehouse.codes.kinds import (
    CodeKind,
    Colour,
    Courier,
    Health,
    Itinerary,
    Pass,
    Vaccination,
    Venue,
    VenueKind,
)

__all__ = [
    "CodeError", "CodeKind", "CodeProblem", "Colour", "Courier", "Health", "Itinerary",
    "Pass", "SigningKey", "TrustList", "TrustedKey", "Vaccination", "VerifiedCode",
    "Venue", "VenueKind", "encode", "verify",
]
