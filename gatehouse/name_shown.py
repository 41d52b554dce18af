"""How much of a masked name may be shown beyond the compound: at most two letters, and
never all of them (张*丰, J*** S****, 王*).

gatehouse.privacy.mask_name keeps the first letter of each word, so a name typed with a
space between its characters (欧 阳 建 国), or sent by a gate one letter a word
(欧* 阳* 建* 国*), came out whole (docs/security.md D10). The hub's feed to its district
and the district's pages both pass names through this.
"""
from __future__ import annotations


def at_most_two_letters(masked: str) -> str:
    """`masked` with every letter past the second (or the last one left) starred."""
    keep = min(2, sum(1 for ch in masked if ch != " ") - 1)
    out = []
    for ch in masked:
        if ch not in "* ":
            if keep > 0:
                keep -= 1
            else:
                ch = "*"
        out.append(ch)
    return "".join(out)
