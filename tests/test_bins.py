"""The BIN table: Luhn, length-aware longest-prefix lookup, plausibility, and the UnionPay CSV loader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from worker.api.errors import ConfigError
from worker.recognizer.bins import (
    BinRecord,
    BinTable,
    BinTableError,
    card_network,
    default_table,
    luhn_check_digit,
    luhn_valid,
)

REPO = Path(__file__).resolve().parents[1]


def make_number(prefix: str, length: int, filler: str = "0") -> str:
    """A Luhn-valid number of ``length`` digits starting with ``prefix``."""
    body = (prefix + filler * length)[: length - 1]
    return body + luhn_check_digit(body)


# --- Luhn -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("79927398713", True),
        ("79927398710", False),
        ("6225760000000005", True),
        ("0", True),
        ("", False),
        ("4111 1111 1111 1111", False),
        ("41111111111111١1", False),  # an Arabic-Indic digit is not an ASCII digit
    ],
)
def test_luhn_valid(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_luhn_check_digit_completes_every_prefix() -> None:
    for body in ("622576000000000", "62170012345678901", "411111111111111", "5"):
        digit = luhn_check_digit(body)
        assert luhn_valid(body + digit)
        assert not luhn_valid(body + str((int(digit) + 1) % 10))


def test_luhn_check_digit_rejects_non_digits() -> None:
    with pytest.raises(ValueError, match="digits"):
        luhn_check_digit("62a")


# --- lookup on the shipped table ------------------------------------------------------------------------


def test_622303_is_nanjing_at_16_and_icbc_at_18_digits() -> None:
    table = default_table()
    at_16 = table.lookup(make_number("622303", 16))
    at_18 = table.lookup(make_number("622303", 18))
    assert at_16 is not None and at_16.bank_info == "南京银行(04243010)"
    assert at_18 is not None and at_18.bank_info == "中国工商银行(01020000)"
    assert table.lookup(make_number("622303", 19)) is None, "no row for 19 digits: an explicit length never matches"


def test_documented_examples() -> None:
    table = default_table()
    boc = table.lookup(make_number("514958", 16))
    cmb = table.lookup(make_number("622576", 16))
    assert boc == BinRecord("514958", 16, "中国银行", "01040000", "中银万事达信用卡", "贷记卡")
    assert cmb == BinRecord("622576", 16, "招商银行", "03080000", "招商银行信用卡", "贷记卡")


def test_head_office_names_are_normalised_and_coded() -> None:
    table = default_table()
    record = table.lookup(make_number("622848", 19))
    assert record is not None
    assert (record.bank_info, record.card_kind) == ("中国农业银行(01030000)", "借记卡")
    branch = next(r for r in table.records() if "分行" in r.bank)
    assert branch.institution_code is None and branch.bank_info == branch.bank


def test_unknown_prefix_is_none() -> None:
    assert default_table().lookup(make_number("123456", 16)) is None


def test_lookup_rejects_non_digits() -> None:
    with pytest.raises(ValueError, match="digits"):
        default_table().lookup("6225 7600")


def test_shipped_table_is_sound() -> None:
    table = default_table()
    assert len(table) > 1300
    kinds = {record.card_kind for record in table.records()}
    assert kinds <= {"借记卡", "贷记卡", "准贷记卡", "预付费卡"}
    for record in table.records():
        assert record.prefix.isdigit() and 6 <= len(record.prefix) <= 10
        code = record.institution_code
        assert code is None or (len(code) == 8 and code.isdigit())
    assert default_table() is default_table(), "the default table is loaded once per process"


# --- lookup rules on a hand-made table ------------------------------------------------------------------


def record(prefix: str, length: int | None, bank: str) -> BinRecord:
    return BinRecord(prefix, length, bank, None, "卡", "借记卡")


def test_longest_prefix_wins() -> None:
    table = BinTable([record("622200", None, "short"), record("62220012", None, "long")])
    assert table.lookup(make_number("62220012", 19)).bank == "long"
    assert table.lookup(make_number("62220013", 19)).bank == "short"


def test_exact_length_wins_over_any_length_and_other_lengths_fall_through() -> None:
    table = BinTable(
        [record("622200", None, "any"), record("622200", 19, "nineteen"), record("62220012", 16, "long16")]
    )
    assert table.lookup(make_number("622200", 19)).bank == "nineteen"
    assert table.lookup(make_number("622200", 16)).bank == "any"
    # the 8-digit row is for 16 digits only, so a 19-digit number falls through to the 6-digit rows
    assert table.lookup(make_number("62220012", 19)).bank == "nineteen"
    assert table.lookup(make_number("62220012", 16)).bank == "long16"


# --- plausibility -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "plausible"),
    [
        (make_number("622303", 16), True),  # in the table at that length
        (make_number("622303", 18), True),
        (make_number("629999", 17), True),  # UnionPay range 62 at 16-19
        (make_number("629999", 15), False),  # ...but not at 15
        (make_number("810000", 19), True),  # UnionPay 81
        (make_number("411111", 16), True),  # Visa at 16
        (make_number("411111", 13), False),  # Visa no longer issues 13 digits: a 6-13 line's long group alone
        (make_number("499999", 15), False),  # Visa never issues 15 digits
        (make_number("222100", 16), True),  # Mastercard 2-series
        (make_number("272099", 16), True),
        (make_number("272100", 16), False),
        (make_number("550000", 16), True),
        (make_number("560000", 16), False),
        (make_number("340000", 15), True),  # Amex
        (make_number("370000", 16), False),
        (make_number("352800", 16), True),  # JCB
        (make_number("359000", 16), False),
        (make_number("601100", 16), True),  # Discover
        (make_number("650000", 19), True),
        (make_number("123456", 16), False),
        (make_number("622576", 12), False),  # too short for a card
        (make_number("621330", 15), False),  # a row for any length, but UnionPay issues 16-19 digits
        (make_number("622303", 17), True),  # UnionPay at 17 (the table names 16 and 18 for 622303)
        ("62257600000000000000", False),  # 20 digits
        ("6225-7600", False),
        ("", False),
    ],
)
def test_plausible(number: str, plausible: bool) -> None:
    assert default_table().plausible(number) is plausible


def test_card_network() -> None:
    assert card_network(make_number("622576", 16)) == "unionpay"
    assert card_network(make_number("514958", 16)) == "mastercard"
    assert card_network(make_number("436742", 19)) == "visa"
    assert card_network(make_number("940057", 16)) is None


# --- UnionPay CSV loader ----------------------------------------------------------------------------------

UNIONPAY_HEADER = "发卡行名称,机构代码,卡名,卡号长度,卡BIN(取值),卡种,卡BIN长度\n"


def test_unionpay_csv_loads_chinese_headers_and_overrides_base(tmp_path: Path) -> None:
    path = tmp_path / "unionpay.csv"
    path.write_text(
        UNIONPAY_HEADER
        + "中国工商银行,01020000,牡丹灵通卡,18,622303,借记卡,6\n"
        + "南京银行,4243010,梅花信用卡,16,622303,贷记卡,6\n"  # leading zero lost by a spreadsheet
        + "测试银行,,测试预付卡,19,'99990012,预付费卡,8\n"
        + "\n",
        encoding="utf-8",
    )
    base = BinTable([record("622303", None, "old any-length row"), record("621700", 19, "kept")])
    table = BinTable.from_unionpay_csv(path, base=base)
    assert len(table) == 4
    assert table.lookup(make_number("622303", 18)).card_name == "牡丹灵通卡"
    assert table.lookup(make_number("622303", 16)).bank_info == "南京银行(04243010)"
    assert table.lookup(make_number("622303", 19)) is None, "the file's prefix replaced the base's rows"
    assert table.lookup(make_number("621700", 19)).bank == "kept"
    prepaid = table.lookup(make_number("99990012", 19))
    assert (prepaid.card_kind, prepaid.institution_code) == ("预付费卡", None)


def test_unionpay_csv_accepts_gb18030_and_english_aliases(tmp_path: Path) -> None:
    chinese = tmp_path / "gbk.csv"
    chinese.write_bytes((UNIONPAY_HEADER + "招商银行,03080000,一卡通,16,622588,借记卡,6\n").encode("gb18030"))
    assert BinTable.from_unionpay_csv(chinese).lookup(make_number("622588", 16)).bank == "招商银行"
    english = tmp_path / "en.csv"
    english.write_text("BIN,Bank,Card_Name,Card_Type,Length\n622588,CMB,One Card,debit,16\n", encoding="utf-8")
    assert BinTable.from_unionpay_csv(english).lookup(make_number("622588", 16)).card_kind == "借记卡"


def test_unionpay_csv_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "no_kind.csv"
    path.write_text("发卡行名称,机构代码,卡名,卡号长度,卡BIN(取值)\n招商银行,03080000,一卡通,16,622588\n", "utf-8")
    with pytest.raises(BinTableError, match=r"lacks required column\(s\): card_kind \(one of: 卡种") as caught:
        BinTable.from_unionpay_csv(path)
    assert isinstance(caught.value, ConfigError)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("招商银行,03080000,一卡通,16,62x588,借记卡,6", r"row 2: BIN '62x588'"),
        ("招商银行,03080000,一卡通,25,622588,借记卡,6", r"row 2: card length '25'"),
        ("招商银行,03080000,一卡通,16,622588,会员卡,6", r"row 2: card kind '会员卡'"),
        ("招商银行,CMB,一卡通,16,622588,借记卡,6", r"row 2: institution code 'CMB'"),
        (",03080000,一卡通,16,622588,借记卡,6", r"row 2: the bank name is empty"),
    ],
)
def test_unionpay_csv_bad_values_name_row_and_reason(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(UNIONPAY_HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(BinTableError, match=message):
        BinTable.from_unionpay_csv(path)


def test_unionpay_csv_unreadable_or_empty(tmp_path: Path) -> None:
    with pytest.raises(BinTableError, match="cannot read"):
        BinTable.from_unionpay_csv(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(BinTableError, match="is empty"):
        BinTable.from_unionpay_csv(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text(UNIONPAY_HEADER, encoding="utf-8")
    with pytest.raises(BinTableError, match="has no rows"):
        BinTable.from_unionpay_csv(header_only)


def test_shipped_csv_matches_its_build_script() -> None:
    pytest.importorskip("cardbin", reason="the build script reads the cardbin package")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_bin_table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
