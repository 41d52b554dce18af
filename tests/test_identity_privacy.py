import pytest

from gatehouse.identity import normalize_id, person_ref
from gatehouse.privacy import mask_id, mask_name, mask_phone
from tests.conftest import ALICE_ID, BOB_ID

KEY = b"k" * 32


def test_same_person_same_ref_whatever_the_spacing_or_case():
    assert person_ref(KEY, ALICE_ID) == person_ref(KEY, f" {ALICE_ID[:6]} {ALICE_ID[6:]} ")
    assert person_ref(KEY, "11010519491231002x") == person_ref(KEY, "11010519491231002X")


def test_different_people_and_different_keys_give_different_refs():
    assert person_ref(KEY, ALICE_ID) != person_ref(KEY, BOB_ID)
    assert person_ref(KEY, ALICE_ID) != person_ref(b"j" * 32, ALICE_ID)
    assert len(person_ref(KEY, ALICE_ID)) == 12


@pytest.mark.parametrize("bad", ["", "12", "110101199003070012", "张三", "A" * 40])
def test_bad_id_numbers_are_refused(bad):
    with pytest.raises(ValueError):
        normalize_id(bad)


def test_passport_numbers_are_accepted():
    assert normalize_id("e12345678") == "E12345678"


@pytest.mark.parametrize("name, masked", [
    ("张三丰", "张*丰"), ("张三", "张*"), ("欧阳娜娜", "欧**娜"), ("John Smith", "J*** S****"),
    ("张*丰", "张*丰"), ("", ""), ("王", "王"),
])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_mask_id_and_phone():
    assert mask_id(ALICE_ID) == "11" + "*" * 14 + "11"
    assert mask_phone("138 1234 1234") == "138****1234"
