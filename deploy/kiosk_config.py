#!/usr/bin/env python3
"""Set keys in the kiosk's config.toml, keeping every other line: the technician's own
settings, comments and gate_id stay as they are. Standard library only.

    kiosk_config.py FILE NAME=VALUE [TABLE.NAME=VALUE ...]    (VALUE in TOML: 17, true, "x")

install-kiosk.sh runs it on every run, so a second run with another RELAY_ACTIVE_HIGH
or RELAY_PIN changes [pins] too, not only config.txt and the door-lock unit (the
kiosk would otherwise hold the door open while it runs).
"""
from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

TABLE = re.compile(r"\s*\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$")
KEY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")


def set_keys(text: str, changes: dict[tuple[str | None, str], str]) -> str:
    """`changes` maps (table or None, key) to a TOML value; returns the new text."""
    tomllib.loads(text)  # never rewrite a file we cannot read
    lines, table, done = [], None, set()
    ends: dict[str | None, int] = {None: 0}   # where each table's last key line is
    for line in text.splitlines():
        m = TABLE.match(line)
        if m:
            table = m.group(1)
            ends.setdefault(table, len(lines) + 1)
        elif (k := KEY.match(line)) and (table, k.group(1)) in changes:
            key = (table, k.group(1))
            if key in done:
                continue
            line = f"{k.group(1)} = {changes[key]}"
            done.add(key)
        lines.append(line)
        if not m and line.strip() and (table is None or not line.lstrip().startswith("#")):
            ends[table] = len(lines)
    # New keys go after their table's last key (top-level keys before the first table),
    # tables that are not there yet at the end; in the order given.
    blocks: dict[str | None, list[str]] = {}
    for (tbl, name), value in changes.items():
        if (tbl, name) not in done:
            blocks.setdefault(tbl, []).append(f"{name} = {value}")
    for tbl in sorted((t for t in blocks if t in ends), key=lambda t: -ends[t]):
        lines[ends[tbl]:ends[tbl]] = blocks[tbl]
    for tbl in (t for t in blocks if t not in ends):
        lines += ["", f"[{tbl}]", *blocks[tbl]]
    out = "\n".join(lines).strip("\n") + "\n"
    tomllib.loads(out)
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[0])
    changes = {}
    for item in argv[1:]:
        name, _, value = item.partition("=")
        table, _, key = name.rpartition(".")
        changes[(table or None, key)] = value
    old = path.read_text() if path.exists() else ""
    new = set_keys(old, changes)
    if new != old:
        tmp = path.with_name(path.name + ".new")
        tmp.write_text(new)
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
