"""Masking of personal data for screens, logs and exports."""
from __future__ import annotations


def mask_name(name: str | None) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*, John Smith -> J*** S****; never more than two letters
    and never all of them, however the name was typed (欧 阳 建 国 -> 欧 阳 * *)."""
    if not name:
        return ""
    name = name.strip()
    if "*" in name:  # already masked at issue time (or by a gate): still at most two
        return at_most_two_letters(name)
    if " " in name:
        return at_most_two_letters(" ".join(w[0] + "*" * (len(w) - 1) for w in name.split()))
    if len(name) <= 2:
        return name[0] + "*" * (len(name) - 1) if len(name) == 2 else name
    return name[0] + "*" * (len(name) - 2) + name[-1]


def at_most_two_letters(masked: str) -> str:
    """`masked` with every letter past the second (or the last one left) starred: a name
    typed with a space between its characters kept every one of them (docs/security.md
    D10)."""
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


def mask_id(id_number: str) -> str:
    """Keep the first and last two characters of an ID number: 31**************12."""
    s = str(id_number).strip()
    if len(s) <= 4:
        return "*" * len(s)
    return s[:2] + "*" * (len(s) - 4) + s[-2:]


def mask_phone(phone: str) -> str:
    """13812341234 -> 138****1234."""
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_household(household: str | None) -> str:
    """7-2-302 -> 7-2-**2, 7-302 -> 7-**2: the building stays, the room's last digit only."""
    if not household:
        return ""
    parts = str(household).strip().split("-")
    room = parts[-1]
    if len(parts) == 1:
        return "*" * len(room)
    return "-".join([*parts[:-1], "*" * (len(room) - 1) + room[-1:]])
