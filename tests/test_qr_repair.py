"""qr_repair on real QR codes (made by segno) read back by the real decoder (zxing-cpp).

A repaired matrix is only worth something if zxing-cpp reads the right text from it, and a
wrong text is worse than none: every damaged case checks both.
"""

import numpy as np
import pytest
import segno
import zxingcpp
from segno import consts

from kiosk.scanner import gf256, qr_repair, qr_tables

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
CONTENTS = ("GH1:6B%/:", "gé 7,x", "0123456789")  # alphanumeric, bytes, numeric: fit 1-H
SEGNO_LEVEL = {"L": consts.ERROR_LEVEL_L, "M": consts.ERROR_LEVEL_M,
               "Q": consts.ERROR_LEVEL_Q, "H": consts.ERROR_LEVEL_H}


def make(content: str, version: int, level: str, mask: int = 0) -> np.ndarray:
    code = segno.make_qr(content, version=version, error=level.lower(), mask=mask,
                         boost_error=False)
    return np.array(code.matrix, dtype=bool)


def read(matrix: np.ndarray) -> list[str]:
    image = np.where(np.pad(matrix, 4), 0, 255).astype(np.uint8)  # 4-module quiet zone
    image = np.kron(image, np.ones((3, 3), np.uint8))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, is_pure=True)
    return [f.text for f in found if f.valid]


def health_code(rng: np.random.Generator, length: int = 200) -> str:
    return "GH1:" + "".join(rng.choice(list(ALNUM.replace(" ", "")), length - 4))


def ones(matrix: np.ndarray) -> np.ndarray:
    return np.ones(matrix.shape)


# --- the standard's data, checked against segno's copy --------------------------------

def test_the_block_table_matches_segno_for_every_version_and_level():
    for version in range(1, 41):
        for level, code in SEGNO_LEVEL.items():
            expected = [(ec.num_total, ec.num_data) for ec in consts.ECC[version][code]
                        for _ in range(ec.num_blocks)]
            mine = [(len(m), len(m) - ec) for m, ec in qr_tables.blocks(version, level)]
            assert mine == expected, (version, level)


def test_alignment_format_and_version_words_match_segno():
    assert [qr_tables.alignment_positions(v) for v in range(2, 41)] == \
        [tuple(p) for p in consts.ALIGNMENT_POS]
    order = [(level, m) for level in "MLHQ" for m in range(8)]  # segno's table order
    assert [qr_tables.FORMAT_WORDS[k] for k in order] == list(consts.FORMAT_INFO)
    assert [qr_tables.VERSION_WORDS[v] for v in range(7, 41)] == list(consts.VERSION_INFO)


@pytest.mark.parametrize("version", range(1, 41))
def test_known_modules_are_what_every_code_of_the_version_has(version):
    known, dark = qr_repair.known_modules(version)
    function = qr_repair.function_mask(version)
    assert known.shape == (qr_repair.size(version),) * 2 and not (known & ~function).any()
    for mask in (version % 8, (version + 3) % 8):
        matrix = make(CONTENTS[version % 3], version, "LMQH"[version % 4], mask)
        assert (matrix[known] == dark[known]).all()
    data = (~function).sum()
    assert data // 8 == sum(len(m) for m, _ in qr_tables.blocks(version, "M"))
    assert data % 8 in (0, 3, 4, 7)  # the remainder bits of Table 1


# --- clean codes come back unchanged ----------------------------------------------------

@pytest.mark.parametrize("version", range(1, 41))
def test_a_clean_code_of_every_version_and_level_is_returned_as_it_is(version):
    for i, level in enumerate("LMQH"):
        content = CONTENTS[(version + i) % 3] * (version // 4 + 1)
        matrix = make(content, version, level, mask=(version + i) % 8)
        fixed = qr_repair.repair(matrix, ones(matrix))
        assert fixed is not None and (fixed == matrix).all(), level
        if i == version % 4:  # one zxing read per version, every level over the versions
            assert read(fixed) == [content]


# --- glare: erased modules ----------------------------------------------------------------

def glare(matrix: np.ndarray, centre: tuple[int, int], radius: float
          ) -> tuple[np.ndarray, np.ndarray, float]:
    rows, cols = np.indices(matrix.shape)
    disc = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2
    damaged, reliability = matrix.copy(), ones(matrix)
    damaged[disc], reliability[disc] = False, 0.0  # clipped to white, and known unseen
    data = ~qr_repair.function_mask((len(matrix) - 17) // 4)
    return damaged, reliability, (disc & data).sum() / data.sum()


@pytest.mark.parametrize("centre, radius", [((28, 30), 13), ((40, 40), 14), ((20, 45), 15),
                                            ((30, 26), 15), ((36, 20), 14)])
def test_a_health_code_under_a_glare_blob_is_read_after_repair_not_before(centre, radius):
    content = health_code(np.random.default_rng(radius))
    matrix = make(content, 10, "M", mask=radius % 8)
    damaged, reliability, share = glare(matrix, centre, radius)
    assert 0.14 <= share <= 0.25
    assert read(damaged) == []
    fixed = qr_repair.repair(damaged, reliability)
    assert fixed is not None and (fixed == matrix).all()
    assert read(fixed) == [content]


def test_glare_over_too_much_of_the_code_gives_none():
    matrix = make(health_code(np.random.default_rng(1)), 10, "M")
    damaged, reliability, share = glare(matrix, (30, 30), 19)
    assert share > 0.35
    assert qr_repair.repair(damaged, reliability) is None


# --- errors and erasures: correct or None, never another code ----------------------------

def damage(matrix: np.ndarray, version: int, errors: int, erasures: int,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Flips bits in `errors` codewords (read confidently) and `erasures` (reliability 0)."""
    rows, cols = qr_tables.data_cells(version)
    damaged, reliability = matrix.copy(), ones(matrix)
    picks = rng.choice(len(rows) // 8, errors + erasures, replace=False)
    for i, c in enumerate(picks):
        bits = 8 * c + rng.choice(8, rng.integers(1, 9), replace=False)
        damaged[rows[bits], cols[bits]] ^= True
        if i >= errors:
            reliability[rows[8 * c:8 * c + 8], cols[8 * c:8 * c + 8]] = 0.0
    return damaged, reliability


@pytest.mark.parametrize("level", "LMQH")
def test_damage_within_the_rule_is_corrected(level):
    rng = np.random.default_rng(7)
    matrix = make("GH1:WITHIN", 1, level)
    ec, slack = qr_tables.EC_PER_BLOCK[level][0], qr_repair.SLACK
    for erasures in range(0, ec - slack + 1):
        errors = (ec - slack - erasures) // 2
        damaged, reliability = damage(matrix, 1, errors, erasures, rng)
        fixed = qr_repair.repair(damaged, reliability)
        assert fixed is not None and (fixed == matrix).all(), (errors, erasures)


@pytest.mark.parametrize("level", "LMQH")
def test_damage_past_the_rule_is_none_though_reed_solomon_could_still_decode_it(level):
    # All parity spent on erasures: decodable in theory, but nothing left to check it by.
    rng = np.random.default_rng(8)
    matrix = make("GH1:BEYOND", 2, level)
    ec = qr_tables.EC_PER_BLOCK[level][1]
    damaged, reliability = damage(matrix, 2, 0, ec - qr_repair.SLACK + 1, rng)
    assert qr_repair.repair(damaged, reliability) is None
    fixed = qr_repair.repair(damaged, reliability, slack=qr_repair.SLACK - 1)
    assert fixed is not None and (fixed == matrix).all()


def test_random_damage_never_repairs_to_another_code():
    rng = np.random.default_rng(2026)
    codes = {(v, level): make(f"GH1:{v}{level}", v, level, mask=v % 8)
             for v in range(1, 8) for level in "LMQH"}
    outcomes = {"correct": 0, "none": 0, "wrong": 0}
    for _ in range(1500):
        (version, level), matrix = list(codes.items())[rng.integers(len(codes))]
        ec = qr_tables.blocks(version, level)[0][1]
        erasures = int(rng.integers(0, ec + 1))
        errors = int(rng.integers(max(0, (ec - erasures) // 2 - 2), (ec - erasures) // 2 + 4))
        damaged, reliability = damage(matrix, version, errors, erasures, rng)
        fixed = qr_repair.repair(damaged, reliability)
        if fixed is None:
            outcomes["none"] += 1
        elif (fixed == matrix).all():
            outcomes["correct"] += 1
        else:
            outcomes["wrong"] += 1
    print(outcomes)
    assert outcomes["wrong"] == 0
    assert outcomes["correct"] > 300 and outcomes["none"] > 300  # both sides of the line seen


def test_garbage_is_never_a_code():
    rng = np.random.default_rng(45)
    for trial in range(3000):
        n = 17 + 4 * int(rng.integers(1, 41 if trial % 10 == 0 else 8))
        grid = rng.random((n, n)) < rng.uniform(0.2, 0.8)
        reliability = rng.random((n, n)) * rng.choice([0.0, 1.0], (n, n), p=[0.2, 0.8])
        assert qr_repair.repair(grid, reliability) is None


def test_garbage_inside_real_function_patterns_is_never_a_code():
    # The grid fit only passes grids whose fixed modules match: draw them, and a format word.
    rng = np.random.default_rng(46)
    for trial in range(500):
        version = int(rng.integers(1, 11))
        template = make("GH1:X", version, "LMQH"[trial % 4], mask=trial % 8)
        function = qr_repair.function_mask(version)
        grid = np.where(function, template, rng.random(template.shape) < 0.5)
        assert qr_repair.repair(grid, ones(grid)) is None


# --- the edges of the API -----------------------------------------------------------------

@pytest.mark.parametrize("shape", [(20, 20), (21, 25), (181, 181), (13, 13), (21,)])
def test_a_grid_of_no_qr_size_raises(shape):
    with pytest.raises(ValueError):
        qr_repair.repair(np.zeros(shape, bool), np.ones(shape))
    with pytest.raises(ValueError):
        qr_repair.size(41)


def test_format_information_beyond_recovery_gives_none():
    matrix = make("GH1:FORMAT", 2, "M", mask=5)
    cells = qr_tables.format_cells(len(matrix))
    unseen = ones(matrix)
    unseen[cells] = 0.0
    assert qr_repair.repair(matrix, unseen) is None  # both copies unseen
    flipped = matrix.copy()
    flipped[cells[0][:, :4], cells[1][:, :4]] ^= True  # 4 confident errors in each copy
    assert qr_repair.repair(flipped, ones(matrix)) is None


def test_one_format_copy_is_enough():
    matrix = make("GH1:FORMAT", 2, "Q", mask=3)
    cells = qr_tables.format_cells(len(matrix))
    damaged, reliability = matrix.copy(), ones(matrix)
    damaged[cells[0][0], cells[1][0]] = False
    reliability[cells[0][0], cells[1][0]] = 0.0
    fixed = qr_repair.repair(damaged, reliability)
    assert fixed is not None and (fixed == matrix).all()


def test_a_wrong_version_field_means_a_wrong_grid():
    matrix = make("GH1:VERSION", 8, "M")
    n = len(matrix)
    other = make("GH1:VERSION", 9, "M")
    cells = qr_tables.version_cells(n)
    grid = matrix.copy()
    grid[cells] = other[qr_tables.version_cells(len(other))]  # says version 9 on a 49-grid
    assert qr_repair.repair(grid, ones(grid)) is None


def test_rs_decoder_corrects_up_to_its_capacity():
    rng = np.random.default_rng(3)
    matrix = make("GH1:RS", 5, "H")
    rows, cols = qr_tables.data_cells(5)
    bits = matrix[rows, cols] ^ qr_tables.mask(0, len(matrix))[rows, cols]
    stream = np.packbits(bits[:8 * (len(rows) // 8)]).astype(np.int64)
    members, ec = qr_tables.blocks(5, "H")[0]
    block = stream[members]
    for erasures in range(ec + 1):
        received = block.copy()
        spots = rng.choice(len(block), erasures + (ec - erasures) // 2, replace=False)
        received[spots] ^= rng.integers(1, 256, len(spots))
        found = gf256.correct(received, gf256.syndromes(received, ec), spots[:erasures], ec)
        assert found is not None and (found[0] == block).all()
        assert found[1] == (ec - erasures) // 2


def test_unusable_reliabilities_count_as_unseen():
    matrix = make("GH1:NAN", 3, "M", mask=6)
    reliability = ones(matrix)
    reliability[9:18, 9:18] = np.nan  # data modules only: the format copies stay readable
    reliability[20:23, 12:14] = -1.0
    reliability[0:2, 10:12] = np.inf
    damaged = matrix.copy()
    damaged[9:18, 9:18] = False  # what the NaN hides is wrong: only erasing it reads it
    assert qr_repair.repair(damaged, np.where(np.isnan(reliability), 1.0, reliability)) is None
    fixed = qr_repair.repair(damaged, reliability)
    assert fixed is not None and (fixed == matrix).all()
    assert qr_repair.repair(matrix, np.full(matrix.shape, np.nan)) is None


@pytest.mark.parametrize("slack", [-40, -1, 0, 40])
def test_any_slack_gives_a_matrix_or_none(slack):
    rng = np.random.default_rng(9)
    matrix = make("GH1:SLACK", 4, "Q")
    damaged, reliability = damage(matrix, 4, 3, 10, rng)
    fixed = qr_repair.repair(damaged, reliability, slack=slack)
    assert fixed is None or fixed.shape == matrix.shape


def test_soft_reliabilities_repair_more_noisy_codes_than_hard_decisions():
    # Each module sampled with noise; its reliability is its distance from the threshold.
    rng = np.random.default_rng(24)
    matrix = make(health_code(rng), 10, "M", mask=1)
    repaired = {"soft": 0, "hard": 0}
    for _ in range(40):
        sample = np.where(matrix, 0.0, 1.0) + rng.normal(0, 0.24, matrix.shape)
        dark = sample < 0.5
        for way, reliability in (("soft", np.abs(sample - 0.5)), ("hard", ones(matrix))):
            fixed = qr_repair.repair(dark, reliability)
            assert fixed is None or (fixed == matrix).all()
            repaired[way] += fixed is not None
    print(f"noisy version 10-M codes repaired of 40: {repaired}")
    assert repaired["soft"] >= repaired["hard"] + 5
