"""One line of a group purchase's order list: text clean-up, rooms, phones, items.

Pure functions on strings, shared by the 接龙 and 快团团 readers (hub/parcels/order_chain.py, order_export.py).
"""
from __future__ import annotations

import re
import unicodedata

# Text clean-up ----------------------------------------------------------------------

_WECHAT_EMOJI = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")    # [玫瑰] as WeChat copies it
_KEYCAP = re.compile(r"(\d)\u20e3")                  # 1️⃣
_CIRCLED = re.compile(r"[\u2460-\u2473]")                   # ① … ⑳
_DASHES = re.compile(r"[\u2010-\u2015\u2212\uff5e~]")
_TIMES = re.compile(r"[\u2716\u2715\u2717\u2573]")         # ✖ ✕ ✗ ╳ as ×


def clean(text: str) -> str:
    """Full-width to half-width, emoji and WeChat's [表情] out, dashes made '-'."""
    text = _WECHAT_EMOJI.sub(" ", re.sub("[\ufe0e\ufe0f\u200d]", "", text))
    text = _TIMES.sub("×", _KEYCAP.sub(r"\1. ", text))
    text = _CIRCLED.sub(lambda m: f"{ord(m.group()) - 0x245f}. ", text)
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(c) in ("So", "Sk", "Cs", "Co", "Cn", "Me", "Cf")
                   else c for c in text)
    return _DASHES.sub("-", text).strip()


# Rooms ------------------------------------------------------------------------------

_B = r"(?<![0-9A-Za-z])"
ROOM = re.compile(
    # 7栋1单元502, 7号楼2单元301室, 7#301, A座1201, 7幢2-301
    _B + r"(?P<b1>[A-Z]|[A-Z]?\d{1,3})\s*(?:号楼|栋楼|栋|幢|座|号|#|楼)\s*"
    r"(?:(?P<u1>\d{1,2})\s*(?:单元|单|-)\s*)?(?P<r1>\d{3,4})(?!\d)\s*(?:室|号|房)?"
    # 7-2-301, 7-301 (also with / or _)
    r"|" + _B + r"(?P<b2>\d{1,3})\s*[-/_]\s*(?:(?P<u2>\d{1,2})\s*[-/_]\s*)?(?P<r2>\d{3,4})(?!\d)",
    re.IGNORECASE)
PHONE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)|(?<!\d)(1\d{2}\*{4}\d{4})")


def find_room(text: str, last: bool = False) -> tuple[str, str | None, str, re.Match] | None:
    """(building, unit, room, match) of the first (or last) room written in the text."""
    found = list(ROOM.finditer(text))
    if not found:
        return None
    m = found[-1] if last else found[0]
    b = (m["b1"] or m["b2"]).upper()
    unit, room = m["u1"] or m["u2"], m["r1"] or m["r2"]
    b = str(int(b)) if b.isdigit() else b.lstrip("0") or b
    return b, (str(int(unit)) if unit else None), str(int(room)), m


def find_phone(text: str) -> tuple[str | None, str]:
    """(phone, text without it)."""
    m = PHONE.search(text)
    if not m:
        return None, text
    phone = m[4] or m[1] + m[2] + m[3]
    return phone, text[:m.start()] + " " + text[m.end():]


# Items ------------------------------------------------------------------------------

UNITS = ("公斤|千克|kg|份|个|盒|袋|箱|斤|包|瓶|桶|只|件|套|提|板|组|把|颗|条|罐|听|支|块|"
         "打|筐|网|串|枚|根|盆|捆|杯|扎|单")
WEIGHTS = {"斤", "公斤", "千克", "kg"}
_CN = "一二两三四五六七八九十"
_N = rf"(?P<n>\d+|[{_CN}]{{1,2}}(?=\s*(?:{UNITS})))"
QTY_ONLY = re.compile(rf"^(?:[+×xX*]\s*)?{_N}\s*(?P<unit>{UNITS})?$")
NAME_QTY = re.compile(rf"^(?P<name>.+?)\s*(?:[×xX*+]\s*)?{_N}\s*(?P<unit>{UNITS})?$")
QTY_NAME = re.compile(rf"^{_N}\s*(?P<unit>{UNITS})\s*(?P<name>\D.*)$")
GLUED = re.compile(rf"(?P<name>[^\d×xX*+]+?)\s*(?:[×xX*]\s*(?P<n>\d+)\s*(?P<unit>{UNITS})?"
                   rf"|(?P<n2>\d+|[{_CN}]{{1,2}})\s*(?P<unit2>{UNITS}))")
MONEY = re.compile(r"^[¥$]\d+(?:\.\d+)?元?$|^\d+(?:\.\d+)?元$|^\d+\.\d+$")
IGNORED = {"已付", "已付款", "已支付", "已转", "已转账", "已接龙", "谢谢", "谢谢团长", "辛苦了",
           "团长辛苦了", "送货", "送到门口", "自提", "红包已发", "未付"}
CANCEL = {"取消", "取消了", "不要了", "退出", "撤销"}
_SPLIT = re.compile(r"[\s,;、，；/|]+")
BRACKETED = re.compile(r"^[(\[【].*[)\]】]$")
_TRAILING_NOTE = re.compile(r"(?<=\S)[(\[【][^)\]】]*[)\]】](?=\s|$)")   # *2(放门口)
_PLUS = re.compile(r"\+(?=[^\d\s])")


def _qty(n: str) -> int:
    if n.isdigit():
        return int(n)
    if n == "十":
        return 10
    if n.startswith("十"):
        return 10 + _qty(n[1:])
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
    return digits[n[0]] * (10 if n[1:2] == "十" else 1) if n[0] in digits else 0


def _item(name: str | None, n: str, unit: str | None) -> tuple[str | None, int]:
    name = (name or "").strip(" :：-") or None
    if name and unit and unit.lower() in WEIGHTS:
        name = f"{name}({unit})"
    return name, _qty(n)


def read_token(token: str) -> list[tuple[str | None, int]] | None:
    """The items in one token: [(name or None for the batch's product, quantity)], or
    None when the token names something without a quantity (a name or a product)."""
    for pattern in (QTY_ONLY, QTY_NAME):
        if m := pattern.match(token):
            return [_item(m.groupdict().get("name"), m["n"], m["unit"])]
    pos, out = 0, []
    for m in GLUED.finditer(token):                     # 蔬菜包×2鸡蛋×1
        if m.start() != pos:
            break
        out.append(_item(m["name"], m["n"] or m["n2"], m["unit"] or m["unit2"]))
        pos = m.end()
    if len(out) > 1 and pos == len(token):
        return out
    m = NAME_QTY.match(token)
    return [_item(m["name"], m["n"], m["unit"])] if m and not re.search(r"\d$", m["name"]) \
        else None


def tokens(text: str) -> list[str]:
    text = _TRAILING_NOTE.sub(r" \g<0>", _PLUS.sub(" ", text))
    return [t for t in _SPLIT.split(text) if t]


_DATE = re.compile(r"^\s*(\d{1,4}[-/.年])?\d{1,2}[-/.月]\d{1,2}[日号]?\s*(周.|星期.)?\s*")


def product_of(title: str) -> str:
    """The product a chain is about, from its title: '12月3日 蔬菜包团购' -> '蔬菜包'."""
    t = _DATE.sub("", clean(title).lstrip("#"))
    t = re.split(r"[,.，。:：!！(（\s]", t, maxsplit=1)[0]
    t = re.sub(r"(团购|接龙|拼团|开团|预订|预定|订购|报名|统计|第.{1,3}期|今日|明日)", "", t)
    return t if 1 <= len(t) <= 12 and not t.isdigit() else ""
