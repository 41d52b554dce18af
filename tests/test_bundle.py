"""The hub's bundle: only the hub's signature counts, and a gate never goes back a version."""
import pytest

from gatehouse.bundle import Bundle, BundleError, newer, seal, unseal
from gatehouse.codes import SigningKey
from gatehouse.home import write_atomic
from gatehouse.policy import BuildingStatus, Policy
from kiosk.bundles import KioskSetupError, load_bundle
from tests.conftest import T0

HUB = SigningKey.generate()
HUB_TRUST = HUB.trusted("hub", frozenset())


def bundle(version=3, **kw):
    return Bundle(version, T0, "测试小区", Policy(), {"7": BuildingStatus.SEALED},
                  frozenset({"00ff00ff00ff00ff"}), (HUB_TRUST,), **kw)


def test_round_trip():
    b = bundle()
    assert unseal(seal(b, HUB), HUB_TRUST) == b


def test_bundle_signed_by_another_device_is_refused():
    with pytest.raises(BundleError, match="not by the hub"):
        unseal(seal(bundle(), SigningKey.generate()), HUB_TRUST)


def test_altered_bundle_is_refused():
    blob = bytearray(seal(bundle(), HUB))
    blob[-70] ^= 1  # inside the payload
    with pytest.raises(BundleError):
        unseal(bytes(blob), HUB_TRUST)


@pytest.mark.parametrize("blob", [b"", b"\x00" * 10, b"not cbor at all", None])
def test_garbage_is_refused_with_a_reason(blob):
    with pytest.raises(BundleError):
        unseal(blob, HUB_TRUST)


def test_older_or_equal_version_never_replaces_the_current_one():
    assert newer(bundle(4), bundle(3)) and newer(bundle(1), None)
    assert not newer(bundle(3), bundle(3)) and not newer(bundle(2), bundle(3))


def test_kiosk_takes_the_newest_valid_copy(compound, home):
    compound.set_building("7", BuildingStatus.SEALED, T0)
    hub_version = load_bundle(home).version
    # A stale copy in the kiosk's own folder does not win over the hub's newer one...
    write_atomic(home.kiosk_bundle, seal(compound.build_bundle(1, T0), compound.key))
    assert load_bundle(home).version == hub_version
    # ...and a forged newer copy is ignored.
    write_atomic(home.kiosk_bundle, seal(compound.build_bundle(99, T0), SigningKey.generate()))
    loaded = load_bundle(home)
    assert loaded.version == hub_version and loaded.buildings["7"] is BuildingStatus.SEALED


def test_kiosk_without_any_bundle_says_so(home):
    with pytest.raises(KioskSetupError, match="hub init"):
        load_bundle(home)


def test_a_spoiled_bundle_file_falls_back_to_the_last_good_copy(compound, tmp_path, caplog):
    import shutil

    from gatehouse.home import Home
    from kiosk.bundles import BundleCache
    gate = Home.at(tmp_path / "gate")
    gate.kiosk.mkdir(parents=True)
    shutil.copyfile(compound.home.hub_public, gate.kiosk_hub_public)
    write_atomic(gate.kiosk_bundle, seal(compound.build_bundle(5, T0), compound.key))
    cache = BundleCache(gate)
    assert cache.get().version == 5 and gate.kiosk_bundle_good.exists()
    gate.kiosk_bundle.write_bytes(b"\x00" * 100)          # the SD card spoils the file
    assert cache.get().version == 5                        # the running gate keeps it...
    assert cache.get().version == 5
    assert sum("ignoring a bundle copy" in r.message for r in caplog.records) == 1  # says so once
    assert load_bundle(gate).version == 5                  # and a restart still has it
