"""H-REVIEW s6: the signed-file cache (gatehouse/signed_files.py, ea3b360) under files
an attacker or a dying SD card could leave: forged, truncated, emptied, replaced by a
symlink, an older signed copy, a change that keeps mtime and size (a new inode), and a
file that vanishes. The gate must keep the newest copy that verified and never hand out
one that did not. Held; the loader here is an HMAC stand-in for the hub's signature
(the bundle and manifest loaders are tested with real signatures in test_bundle.py and
test_kiosk_pickup.py)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from gatehouse.home import write_atomic
from gatehouse.signed_files import SignedFileCache, file_mark

KEY = b"hub key"


class Forged(Exception):
    pass


@dataclass(frozen=True)
class Copy:
    version: int
    body: bytes


def sign(version: int, body: bytes = b"roster") -> bytes:
    data = b"%d|" % version + body
    return hmac.new(KEY, data, hashlib.sha256).hexdigest().encode() + b"|" + data


def load(path: Path):
    def read() -> Copy | None:
        if not path.exists():
            return None
        raw = path.read_bytes()
        mac, _, data = raw.partition(b"|")
        if not hmac.compare_digest(mac, hmac.new(KEY, data, hashlib.sha256).hexdigest().encode()):
            raise Forged(f"{path.name}: bad signature")
        version, _, body = data.partition(b"|")
        return Copy(int(version), body)
    return read


@pytest.fixture
def cache(tmp_path):
    path = tmp_path / "bundle.cose"
    write_atomic(path, sign(5))
    c = SignedFileCache((path,), load(path), lambda new, held: new.version > held.version,
                        (Forged, ValueError), what="bundle", required=True)
    assert c.get() == Copy(5, b"roster")
    return c, path


def test_forged_truncated_or_emptied_copies_never_replace_the_one_that_verified(cache, caplog):
    c, path = cache
    forged = sign(9)[:-6] + b"opened"             # a higher version, its body changed
    for bad in (forged, sign(9)[:40], b"", b"\x00" * 4096, b"|" * 10):
        write_atomic(path, bad)
        with caplog.at_level(logging.ERROR):
            assert c.get() == Copy(5, b"roster")
            assert c.get() == Copy(5, b"roster")     # asked again: no new read
    assert sum("does not verify" in r.message for r in caplog.records) == 5  # once each
    write_atomic(path, sign(6))
    assert c.get() == Copy(6, b"roster")


def test_an_older_signed_copy_or_a_vanished_file_is_not_a_step_back(cache):
    c, path = cache
    write_atomic(path, sign(4, b"old roster"))
    assert c.get() == Copy(5, b"roster")
    path.unlink()
    assert c.get() == Copy(5, b"roster")


def test_a_symlink_to_a_forged_file_or_to_nowhere_is_refused_and_a_signed_one_taken(cache):
    c, path = cache
    elsewhere = path.parent / "elsewhere"
    elsewhere.write_bytes(sign(8)[:-3] + b"xyz")
    path.unlink()
    path.symlink_to(elsewhere)
    assert c.get() == Copy(5, b"roster")
    path.unlink()
    path.symlink_to(path.parent / "nowhere")
    assert c.get() == Copy(5, b"roster")
    path.unlink()
    write_atomic(elsewhere, sign(8))
    path.symlink_to(elsewhere)
    assert c.get() == Copy(8, b"roster")


def test_a_replacement_keeping_mtime_and_size_is_still_read(cache):
    """Same size, the old copy's mtime set back on the new file: the inode tells."""
    c, path = cache
    before = os.stat(path)
    write_atomic(path, sign(7))                   # same length as sign(5)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert file_mark(path)[:2] == (before.st_mtime_ns, before.st_size)
    assert c.get() == Copy(7, b"roster")
    # A forged copy the same way: still refused.
    before = os.stat(path)
    write_atomic(path, sign(9)[:-6] + b"opened")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert c.get() == Copy(7, b"roster")


def test_with_nothing_held_a_forged_first_copy_raises_every_time_never_is_used(tmp_path):
    path = tmp_path / "bundle.cose"
    write_atomic(path, sign(3)[:-1] + b"X")
    c = SignedFileCache((path,), load(path), lambda new, held: new.version > held.version,
                        (Forged,), what="bundle", required=True)
    for _ in range(3):
        with pytest.raises(Forged):
            c.get()
    assert c.held is None
    write_atomic(path, sign(3))
    assert c.get() == Copy(3, b"roster")
