"""Signed files the hub and the gates read again only when they change: the policy
bundle (the gate decides with it, the hub publishes it) and the parcel shelves'
manifest (a parcel-area kiosk hands out from it).

Both are replaced by rename: a new inode, a new mtime, perhaps the same size. `file_mark`
holds all three, so a check costs one stat() until a file really changes.
`SignedFileCache` keeps the newest copy that verified: a version never goes back, and a
copy that stops verifying (a spoiled SD card) is logged once while the one held is kept.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
Mark = tuple[int, int, int]
T = TypeVar("T")


def file_mark(path: Path | str) -> Mark | None:
    """(mtime in ns, size, inode) of `path`, or None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class SignedFileCache(Generic[T]):
    """The newest valid copy among `paths`, read and verified again only when one of
    them changed on disk.

    `load()` reads and verifies the files: the newest valid copy, None when there is
    none yet, or one of `errors` when what is there does not verify. `newer(new, held)`
    says whether a copy replaces the one held (never an older one). A failure while a
    copy is held is logged and the held one kept, until a file changes again; with
    nothing held, `required` raises it (and tries again at the next look), else there
    is nothing to hold. `on_new` is told of every copy taken.
    """

    def __init__(self, paths: Sequence[Path], load: Callable[[], T | None],
                 newer: Callable[[T, T], bool], errors: tuple[type[Exception], ...], *,
                 what: str, required: bool = False,
                 on_new: Callable[[T], None] = lambda _: None):
        self.paths, self.load, self.newer, self.errors = tuple(paths), load, newer, errors
        self.what, self.required, self.on_new = what, required, on_new
        self.held: T | None = None
        self._mark: tuple | None = None

    def refresh(self) -> bool:
        """Read the files again if one changed; True when they were read and verified."""
        mark = tuple(file_mark(p) for p in self.paths)
        if mark == self._mark:
            return False
        try:
            copy = self.load()
        except self.errors as exc:
            if self.held is None and self.required:
                raise
            log.error("the saved %s does not verify: %s; keeping the one held", self.what, exc)
            self._mark = mark
            return False
        if copy is not None and (self.held is None or self.newer(copy, self.held)):
            self.held = copy
            self.on_new(copy)
        self._mark = mark
        return True

    def get(self) -> T | None:
        self.refresh()
        return self.held
