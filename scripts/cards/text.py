"""Every fixed string the card generator prints, in one place.

Why one place: the committed CJK font is a subset holding only the glyphs the generator needs; the subset
build (``scripts/fonts/build_cjk_subset.py``) reads these strings plus the BIN table's bank and card names, so
a new string here is a rebuild away from rendering instead of a silent blank box.
"""

from __future__ import annotations

# Labels printed next to the expiry date. Each entry is the lines of the label, top to bottom.
EXPIRY_LABELS: tuple[tuple[str, ...], ...] = (
    ("VALID", "THRU"),
    ("GOOD", "THRU"),
    ("有效期",),
    ("MONTH/YEAR",),
    ("有效期", "VALID THRU"),
    ("EXPIRES", "END"),
)

# Dates that are printed like an expiry but are not one; the recognizer must not answer them.
DISTRACTOR_LABELS: tuple[tuple[str, ...], ...] = (
    ("MEMBER", "SINCE"),
    ("VALID", "FROM"),
    ("MEMBER SINCE",),
)

# Small print found on Chinese bank cards, used as clutter around the number.
CARD_SLOGANS: tuple[str, ...] = (
    "银联",
    "闪付",
    "借记卡",
    "信用卡",
    "金卡",
    "白金卡",
    "储蓄卡",
    "QuickPass",
    "UnionPay",
    "DEBIT",
    "CREDIT",
    "PLATINUM",
    "GOLD",
    "ELECTRONIC USE ONLY",
    "客服热线 95588",
)

SURNAMES: tuple[str, ...] = (
    "WANG", "LI", "ZHANG", "LIU", "CHEN", "YANG", "HUANG", "ZHAO", "WU", "ZHOU",
    "XU", "SUN", "MA", "ZHU", "HU", "GUO", "HE", "LIN", "GAO", "LUO",
)  # fmt: skip

GIVEN_NAMES: tuple[str, ...] = (
    "WEI", "FANG", "NA", "XIUYING", "MIN", "JING", "LEI", "QIANG", "JUN", "YANG",
    "YONG", "YAN", "JIE", "TAO", "MING", "CHAO", "XIULAN", "XIA", "PING", "GANG", "HAO YU", "ZI HAN",
)  # fmt: skip


def fixed_strings() -> list[str]:
    """All fixed strings, for the font subset build."""
    strings: list[str] = []
    for label in (*EXPIRY_LABELS, *DISTRACTOR_LABELS):
        strings.extend(label)
    strings.extend(CARD_SLOGANS)
    strings.extend(SURNAMES)
    strings.extend(GIVEN_NAMES)
    return strings
