"""Rebuild ``worker/recognizer/data/bins.csv`` from the MIT-licensed ``cardbin`` package plus curated facts.

Why a build step: the runtime must not depend on ``cardbin`` (its data is a Python dict of "bank|card name"
strings, without card-number lengths, card kinds or institution codes). This script turns it, once and
deterministically, into the CSV the recognizer loads, and adds what the source lacks:

- bank names normalised to the head office where the row is a head-office product (工商银行 -> 中国工商银行);
- the 8-digit institution code of the head offices we know for certain (never for branches or small banks);
- the card kind, derived from the card name (信用卡/贷记/公务卡 -> 贷记卡, 准贷记 -> 准贷记卡, 预付/储值 -> 预付费卡);
- curated rows with explicit card-number lengths for documented facts (622303 is 南京银行 at 16 digits and
  中国工商银行 at 18) and for common BINs whose length is well known. A curated row replaces every source row
  of its prefix, so a length-specific row is never shadowed by a length-less one.

Example::

    .venv/bin/python scripts/build_bin_table.py            # rewrites the CSV
    .venv/bin/python scripts/build_bin_table.py --check    # exit 1 when the committed CSV is stale

Parameters: ``--out PATH`` (default: the shipped CSV), ``--check``.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "worker" / "recognizer" / "data" / "bins.csv"
HEADER = ("bin", "length", "bank", "institution_code", "card_name", "card_kind", "origin")

# Short or variant names in the source -> the head office's full name.
HEAD_OFFICE_ALIASES: dict[str, str] = {
    "工商银行": "中国工商银行",
    "中国工商银行": "中国工商银行",
    "建设银行": "中国建设银行",
    "中国建设银行": "中国建设银行",
    "农业银行": "中国农业银行",
    "中国农业银行贷记卡": "中国农业银行",
    "中国银行": "中国银行",
    "邮政储蓄银行": "中国邮政储蓄银行",
    "邮储银行": "中国邮政储蓄银行",
    "交通银行": "交通银行",
    "招商银行": "招商银行",
    "招商银行信用卡中心": "招商银行",
    "中信银行": "中信银行",
    "光大银行": "中国光大银行",
    "华夏银行": "华夏银行",
    "民生银行": "中国民生银行",
    "平安银行": "平安银行",
    "兴业银行": "兴业银行",
    "浦东发展银行": "上海浦东发展银行",
    "恒丰银行": "恒丰银行",
    "浙商银行": "浙商银行",
    "渤海银行": "渤海银行",
    "北京银行": "北京银行",
    "宁波银行": "宁波银行",
    "南京银行": "南京银行",
}

# Source bank names that say the row is a credit-card product whatever the card name says.
CREDIT_ISSUER_NAMES = frozenset({"中国农业银行贷记卡", "招商银行信用卡中心"})

# Head-office institution codes (the legacy API's documented 银行信息 values). Nothing else gets a code.
INSTITUTION_CODES: dict[str, str] = {
    "中国邮政储蓄银行": "01000000",
    "中国工商银行": "01020000",
    "中国农业银行": "01030000",
    "中国银行": "01040000",
    "中国建设银行": "01050000",
    "交通银行": "03010000",
    "中信银行": "03020000",
    "中国光大银行": "03030000",
    "华夏银行": "03040000",
    "中国民生银行": "03050000",
    "广发银行": "03060000",
    "平安银行": "03070000",
    "招商银行": "03080000",
    "兴业银行": "03090000",
    "上海浦东发展银行": "03100000",
    "恒丰银行": "03110000",
    "浙商银行": "03160000",
    "渤海银行": "03170000",
    "北京银行": "04031000",
    "宁波银行": "04083320",
    "南京银行": "04243010",
}


@dataclass(frozen=True)
class Curated:
    """A row we add or pin by hand: the documented facts and well-known card-number lengths."""

    prefix: str
    length: int
    bank: str
    card_name: str
    card_kind: str


# Documented by the legacy API's own examples and the UnionPay table (see the API reference), plus common
# BINs whose card-number length is well established and whose issuer the source agrees with.
CURATED: tuple[Curated, ...] = (
    Curated("514958", 16, "中国银行", "中银万事达信用卡", "贷记卡"),
    Curated("622576", 16, "招商银行", "招商银行信用卡", "贷记卡"),
    Curated("622303", 16, "南京银行", "梅花贷记卡(银联卡)", "贷记卡"),
    Curated("622303", 18, "中国工商银行", "", "借记卡"),
    # 19-digit debit cards of the large banks.
    Curated("621700", 19, "中国建设银行", "龙卡通", "借记卡"),
    Curated("622700", 19, "中国建设银行", "龙卡储蓄卡(银联卡)", "借记卡"),
    Curated("436742", 19, "中国建设银行", "龙卡储蓄卡", "借记卡"),
    Curated("622848", 19, "中国农业银行", "金穗通宝卡(银联卡)", "借记卡"),
    Curated("621226", 19, "中国工商银行", "牡丹卡普卡", "借记卡"),
    Curated("622202", 19, "中国工商银行", "E时代卡", "借记卡"),
    Curated("621661", 19, "中国银行", "个人普卡", "借记卡"),
    Curated("622262", 19, "交通银行", "交银IC卡", "借记卡"),
    Curated("622188", 19, "中国邮政储蓄银行", "绿卡银联标准卡", "借记卡"),
    Curated("622150", 19, "中国邮政储蓄银行", "绿卡银联标准卡", "借记卡"),
    Curated("621799", 19, "中国邮政储蓄银行", "IC绿卡通", "借记卡"),
    # 招商银行 debit cards are 16 digits.
    Curated("622588", 16, "招商银行", "一卡通(银联卡)", "借记卡"),
    Curated("622580", 16, "招商银行", "一卡通(银联卡)", "借记卡"),
    Curated("622609", 16, "招商银行", "金卡", "借记卡"),
    Curated("621483", 16, "招商银行", "银联IC普卡", "借记卡"),
    Curated("621485", 16, "招商银行", "银联IC金卡", "借记卡"),
    Curated("621486", 16, "招商银行", "银联金葵花IC卡", "借记卡"),
)


def card_kind_from_name(card_name: str, source_bank: str) -> str:
    """Derive the UnionPay card kind from a product name; debit unless the name says otherwise."""
    if "准贷记" in card_name:
        return "准贷记卡"
    if "贷记" in card_name or "信用" in card_name or source_bank in CREDIT_ISSUER_NAMES:
        return "贷记卡"
    if "公务卡" in card_name:  # government staff cards are credit cards by definition
        return "贷记卡"
    if "预付" in card_name or "储值" in card_name:
        return "预付费卡"
    return "借记卡"


def clean_card_name(card_name: str) -> str:
    """Drop placeholder names ("--") so an unknown name stays empty rather than made up."""
    name = card_name.strip()
    return "" if re.fullmatch(r"[-\s]*", name) else name


def load_cardbin() -> dict[str, str]:
    """The source dict, read from the installed ``cardbin`` package (only this script needs it)."""
    try:
        from cardbin.bankbin import BANKBIN
    except ImportError as exc:  # pragma: no cover - only when the build tool is missing
        raise SystemExit("the build needs the 'cardbin' package: pip install cardbin==1.0.0") from exc
    return dict(BANKBIN)


def build_rows(source: dict[str, str]) -> list[tuple[str, ...]]:
    """Turn the source dict plus the curated rows into sorted CSV rows."""
    curated_prefixes = {row.prefix for row in CURATED}
    rows: list[tuple[str, ...]] = []
    for prefix, value in source.items():
        if prefix in curated_prefixes:
            continue
        source_bank, _, raw_name = value.partition("|")
        source_bank = source_bank.strip()
        card_name = clean_card_name(raw_name)
        bank = HEAD_OFFICE_ALIASES.get(source_bank, source_bank)
        code = INSTITUTION_CODES.get(bank, "") if source_bank in HEAD_OFFICE_ALIASES else ""
        kind = card_kind_from_name(card_name, source_bank)
        rows.append((prefix, "", bank, code, card_name, kind, "cardbin"))
    for row in CURATED:
        code = INSTITUTION_CODES.get(row.bank, "")
        rows.append((row.prefix, str(row.length), row.bank, code, row.card_name, row.card_kind, "curated"))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def render_csv(rows: list[tuple[str, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the CSV")
    parser.add_argument("--check", action="store_true", help="only compare with the existing file")
    args = parser.parse_args(argv)
    text = render_csv(build_rows(load_cardbin()))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run scripts/build_bin_table.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
