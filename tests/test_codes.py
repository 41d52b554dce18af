"""Signed codes: round trips, and every way a code can be wrong comes back as a reason."""
import cbor2
import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from gatehouse import codes
from gatehouse.codes import (
    CodeError,
    CodeKind,
    CodeProblem,
    Colour,
    Courier,
    Health,
    Itinerary,
    Pass,
    SigningKey,
    TrustList,
    Vaccination,
    Venue,
    VenueKind,
    VerifiedCode,
    cose,
)
from gatehouse.codes.base45 import ALPHABET, b45decode, b45encode
from gatehouse.codes.format import PREFIX
from tests.conftest import HOUR, T0

HUB = SigningKey.generate()
AUTH = SigningKey.generate()
TRUST = TrustList.of(
    HUB.trusted("hub", frozenset({CodeKind.PASS, CodeKind.VENUE, CodeKind.COURIER})),
    AUTH.trusted("authority", frozenset({CodeKind.HEALTH, CodeKind.ITINERARY})))
REF = bytes(range(12))

SAMPLES = [
    (HUB, Pass(REF, "张*丰", "7", "2", "302")),
    (HUB, Pass(REF, "李*", "12", None, "1101")),
    (HUB, Venue("gate-north", VenueKind.GATE, "北门")),
    (HUB, Courier("王*", "顺丰速运")),
    (AUTH, Health(REF, Colour.GREEN, T0 - 20 * HOUR, Vaccination.BOOSTER, 3, "张*丰")),
    (AUTH, Health(REF, Colour.YELLOW, None, Vaccination.UNKNOWN, 0)),
    (AUTH, Itinerary(REF, ("上海", "苏州", "杭州"), True)),
]


def health_code(**kw) -> str:
    claims = Health(REF, Colour.GREEN, T0 - 20 * HOUR, Vaccination.BOOSTER, 3, "张*丰")
    return codes.encode(claims, AUTH, kw.get("iat", T0 - HOUR), kw.get("exp", T0 + 23 * HOUR))


@pytest.mark.parametrize("key, claims", SAMPLES, ids=lambda s: type(s).__name__)
def test_round_trip_keeps_every_claim(key, claims):
    text = codes.encode(claims, key, T0 - HOUR, T0 + HOUR)
    result = codes.verify(text, TRUST, T0)
    assert isinstance(result, VerifiedCode)
    assert result.claims == claims and result.kind is claims.KIND
    assert result.iat == T0 - HOUR and result.exp == T0 + HOUR
    assert text.startswith(PREFIX) and all(c in ALPHABET for c in text[len(PREFIX):])


def test_typical_health_code_fits_qr_version_10_at_ecc_m():
    qr = segno.make(health_code(), error="m", boost_error=False)
    assert qr.mode == "alphanumeric"
    assert qr.version <= 10


def test_every_single_character_change_is_refused():
    text = health_code()
    body = text[len(PREFIX):]
    for i, ch in enumerate(body):
        other = ALPHABET[(ALPHABET.index(ch) + 1) % len(ALPHABET)]
        result = codes.verify(PREFIX + body[:i] + other + body[i + 1:], TRUST, T0)
        assert isinstance(result, CodeError), f"change at {i} was accepted"


@pytest.mark.parametrize("cut", [1, 2, 3, 10, 50, 100, 150])
def test_truncated_code_is_malformed(cut):
    result = codes.verify(health_code()[:-cut], TRUST, T0)
    assert isinstance(result, CodeError) and result.problem is CodeProblem.MALFORMED


def test_bytes_appended_after_the_signature_are_refused():
    text = health_code()
    raw = b45decode(text[len(PREFIX):]) + b"\x00"
    result = codes.verify(PREFIX + b45encode(raw), TRUST, T0)
    assert result.problem is CodeProblem.MALFORMED


def test_expired_code_is_refused_but_still_says_whose_it_is():
    result = codes.verify(health_code(exp=T0), TRUST, T0)
    assert result.problem is CodeProblem.EXPIRED and result.problem.is_time
    assert result.code.claims.person_ref == REF


def test_code_issued_in_the_future_beyond_the_skew_is_refused():
    assert isinstance(codes.verify(health_code(iat=T0 + 200, exp=T0 + HOUR), TRUST, T0),
                      VerifiedCode)  # inside the 300 s skew: an issuer clock a bit fast
    result = codes.verify(health_code(iat=T0 + 1000, exp=T0 + HOUR), TRUST, T0)
    assert result.problem is CodeProblem.NOT_YET_VALID


def test_code_from_an_unknown_key_is_refused():
    stranger = SigningKey.generate()
    text = codes.encode(Pass(REF, "张*", "1", None, "101"), stranger, T0, T0 + HOUR)
    assert codes.verify(text, TRUST, T0).problem is CodeProblem.UNKNOWN_KEY


def test_forgery_claiming_a_trusted_key_id_is_refused():
    """An attacker copies the hub's key id into a code signed with their own key."""
    forger = SigningKey.generate()
    body = cbor2.dumps({-1: 1, 6: T0, 4: T0 + HOUR, 7: b"12345678", -2: REF,
                        -3: "张*", -4: "1", -6: "101"})
    protected = cbor2.dumps({1: -8, 4: HUB.kid})
    tbs = cbor2.dumps(["Signature1", protected, b"", body])
    msg = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, body, forger.sign(tbs)]))
    result = codes.verify(PREFIX + b45encode(msg), TRUST, T0)
    assert result.problem is CodeProblem.SIGNATURE_BAD


def test_hub_key_cannot_issue_health_codes():
    claims = Health(REF, Colour.GREEN, T0, Vaccination.BOOSTER, 3)
    text = codes.encode(claims, HUB, T0, T0 + HOUR)
    result = codes.verify(text, TRUST, T0)
    assert result.problem is CodeProblem.WRONG_ISSUER and result.kind is CodeKind.HEALTH


def test_signed_but_malformed_claims_are_refused():
    body = cbor2.dumps({-1: 4, 6: T0, 4: T0 + HOUR, 7: b"12345678", -2: b"short"})
    text = PREFIX + b45encode(cose.sign1(body, AUTH))
    result = codes.verify(text, TRUST, T0)
    assert result.problem is CodeProblem.MALFORMED and "person_ref" in result.detail


def test_other_qr_codes_are_not_ours():
    for other in ["https://weixin.qq.com/r/abc", "", "HC1:NCFOXN", b"\xff\xd8", "GH1"]:
        assert codes.verify(other, TRUST, T0).problem is CodeProblem.NOT_OURS


def test_scanner_gun_line_end_is_ignored():
    assert isinstance(codes.verify(health_code() + "\r\n", TRUST, T0), VerifiedCode)


def test_encode_refuses_out_of_format_claims():
    with pytest.raises(ValueError, match="person_ref"):
        codes.encode(Pass(b"short", "张*", "1", None, "101"), HUB, T0, T0 + HOUR)
    with pytest.raises(ValueError, match="expire"):
        codes.encode(Pass(REF, "张*", "1", None, "101"), HUB, T0, T0)


# Fuzzing: whatever is scanned, verify() answers with a reason and never raises.

@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400),
                 st.text(alphabet=ALPHABET, max_size=400).map(lambda s: PREFIX + s)))
def test_fuzz_any_input_gives_a_reason(data):
    result = codes.verify(data, TRUST, T0)
    assert isinstance(result, CodeError)
    assert result.problem in CodeProblem


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_codes_never_verify(data):
    text = health_code()
    original = codes.verify(text, TRUST, T0)
    raw = bytearray(b45decode(text[len(PREFIX):]))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[i]
        else:
            raw.insert(i, data.draw(st.integers(0, 255)))
    result = codes.verify(PREFIX + b45encode(bytes(raw)), TRUST, T0)
    # Either refused, or (an equivalent re-encoding of the envelope) exactly the same code.
    assert isinstance(result, CodeError) or (result.claims, result.cti, result.exp) == (
        original.claims, original.cti, original.exp)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.binary(max_size=20)
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=5)
                    | st.dictionaries(st.integers(-10, 10), inner, max_size=6),
                    max_leaves=20))
def test_fuzz_signed_garbage_claims_never_raise(body):
    """Even a trusted issuer's key signing nonsense yields a clear reason."""
    text = PREFIX + b45encode(cose.sign1(cbor2.dumps(body), AUTH))
    assert isinstance(codes.verify(text, TRUST, T0), CodeError)
