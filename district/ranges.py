"""A compound's received cseq ranges (`compound_ranges`) and the gaps between them:
what the district can tell a compound's technician it never got (`district gaps`)."""
from __future__ import annotations

import psycopg


def add_ranges(conn: psycopg.Connection, cid: str, new: list[tuple[int, int]]) -> None:
    """Merge received ranges into the compound's (its row is locked: no one else is).

    Only the rows a new range touches are rewritten, each found by the primary key: a
    compound sending every other cseq must not make each batch rewrite all its rows."""
    if not new:
        return
    firsts, lasts = [a for a, _ in new], [b for _, b in new]
    touched = conn.execute(
        "select distinct r.first, r.last from unnest(%s::bigint[], %s::bigint[]) n(a, b) "
        "cross join lateral ("
        " (select first, last from compound_ranges where compound = %s"
        "  and first between n.a - 1 and n.b + 1)"
        " union all"
        " (select first, last from compound_ranges where compound = %s"
        "  and first < n.a - 1 order by first desc limit 1)) r "
        "where r.last >= n.a - 1", [firsts, lasts, cid, cid]).fetchall()
    if touched:
        conn.execute("delete from compound_ranges where compound = %s and first = any(%s)",
                     [cid, [a for a, _ in touched]])
    merged: list[tuple[int, int]] = []
    for a, b in sorted([*touched, *new]):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    conn.cursor().executemany("insert into compound_ranges (compound, first, last) "
                              "values (%s, %s, %s)", [(cid, a, b) for a, b in merged])


def gaps(conn: psycopg.Connection, compound: str) -> list[tuple[int, int]]:
    """The compound's cseq numbers never received, as ranges (from 1 to the last)."""
    rows = conn.execute("select first, last from compound_ranges where compound = %s "
                        "order by first", [compound]).fetchall()
    out, expected = [], 1
    for first, last in rows:
        if first > expected:
            out.append((expected, first - 1))
        expected = max(expected, last + 1)
    return out
