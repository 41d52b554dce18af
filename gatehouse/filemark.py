"""Whether a file changed since it was last read, for a stat() per check.

The signed files the hub and the gates re-read (the bundle, the shelf manifest, alert
routes) are replaced by rename: a new inode, a new mtime, perhaps the same size. The
mark holds all three, so a check costs one stat() until the file really changes.
"""
from __future__ import annotations

import os
from pathlib import Path

Mark = tuple[int, int, int]


def file_mark(path: Path | str) -> Mark | None:
    """(mtime in ns, size, inode) of `path`, or None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino
