"""The BIN table: who issued a card number, keyed on prefix AND card-number length.

Why a table keyed on length too: 卡类型, 卡名字 and 银行信息 are rows of the UnionPay BIN table, and some
prefixes belong to different issuers at different lengths (622303 is 中国工商银行 at 18 digits and 南京银行
at 16). Lookup is the longest prefix first; at one prefix a row whose length equals the number's wins over a
length-less row, and a row for another length never matches.

Why plausibility: the recognizer accepts a Luhn-valid candidate only when its issuer is plausible, so a
misread that happens to pass Luhn (one in ten do) is still rejected unless it lands on a known BIN or a
card network's range at a length that network issues.

The shipped table (``data/bins.csv``) is built by ``scripts/build_bin_table.py`` from the MIT-licensed
``cardbin`` package (see ``data/NOTICE``); the official UnionPay table can be layered on top of it.

>>> table = default_table()
>>> table.lookup("6225760000000005").bank_info
'招商银行(03080000)'
>>> luhn_valid("6225760000000005"), table.plausible("6225760000000005")
(True, True)
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from worker.api.errors import ConfigError

DEFAULT_TABLE_PATH = Path(__file__).resolve().parent / "data" / "bins.csv"
CARD_KINDS = ("借记卡", "贷记卡", "准贷记卡", "预付费卡")
MIN_PREFIX_DIGITS = 4
MAX_PREFIX_DIGITS = 10
MIN_CARD_DIGITS = 13
MAX_CARD_DIGITS = 19


class BinTableError(ConfigError):
    """A BIN table file cannot be used; the message names the file, the row or the column, and why."""


def luhn_valid(number: str) -> bool:
    """True when ``number`` (digits only) passes the Luhn check; False for empty or non-digit input.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112"), luhn_valid("41x1")
    (True, False, False)
    """
    if not number or not number.isascii() or not number.isdigit():
        return False
    return _luhn_sum(number) % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` Luhn-valid; used to mint and to repair numbers.

    >>> luhn_check_digit("411111111111111")
    '1'
    """
    if not partial or not partial.isascii() or not partial.isdigit():
        raise ValueError("luhn_check_digit needs a non-empty string of digits")
    return str((10 - _luhn_sum(partial + "0")) % 10)


def _luhn_sum(number: str) -> int:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total


@dataclass(frozen=True)
class BinRecord:
    """One row of a BIN table.

    Parameters:
        prefix: the issuer identification digits (4-10; the shipped table uses 6 and 8).
        length: the card-number length this row applies to; None means any length (13-19).
        bank: the issuer's name, e.g. 中国银行.
        institution_code: the issuer's 8-digit institution code, e.g. "01040000"; None when unknown.
        card_name: the product name, e.g. 中银万事达信用卡; empty when the source does not name it.
        card_kind: one of 借记卡 / 贷记卡 / 准贷记卡 / 预付费卡.
    """

    prefix: str
    length: int | None
    bank: str
    institution_code: str | None
    card_name: str
    card_kind: str

    @property
    def bank_info(self) -> str:
        """The API's 银行信息 value: ``中国银行(01040000)``, or the bank name alone when the code is unknown."""
        return f"{self.bank}({self.institution_code})" if self.institution_code else self.bank


@dataclass(frozen=True)
class NetworkRange:
    """A card network's prefix range and the card-number lengths it issues there."""

    network: str
    first: str
    last: str
    lengths: frozenset[int]

    def covers(self, number: str) -> bool:
        head = number[: len(self.first)]
        return len(head) == len(self.first) and self.first <= head <= self.last and len(number) in self.lengths


def _span(low: int, high: int) -> frozenset[int]:
    return frozenset(range(low, high + 1))


#: Visa issues 16 and 19 digits; its 13-digit numbers are no longer issued. A 13-digit read in Visa's range is
#: far likelier the long group of a 6-13 printed 19-digit number read without its first six digits, and one in
#: ten such fragments is Luhn-valid.
NETWORK_RANGES: tuple[NetworkRange, ...] = (
    NetworkRange("unionpay", "62", "62", _span(16, 19)),
    NetworkRange("unionpay", "81", "81", _span(16, 19)),
    NetworkRange("visa", "4", "4", frozenset({16, 19})),
    NetworkRange("mastercard", "51", "55", frozenset({16})),
    NetworkRange("mastercard", "2221", "2720", frozenset({16})),
    NetworkRange("amex", "34", "34", frozenset({15})),
    NetworkRange("amex", "37", "37", frozenset({15})),
    NetworkRange("jcb", "3528", "3589", _span(16, 19)),
    NetworkRange("discover", "6011", "6011", _span(16, 19)),
    NetworkRange("discover", "644", "649", _span(16, 19)),
    NetworkRange("discover", "65", "65", _span(16, 19)),
    NetworkRange("diners", "36", "36", _span(14, 19)),
    NetworkRange("diners", "300", "305", _span(16, 19)),
)


def in_network_range(number: str) -> bool:
    """Whether ``number``'s prefix lies in some card network's range, whatever its length.

    >>> in_network_range("622576000000000"), in_network_range("9555000000000000")
    (True, False)
    """
    return any(r.first <= number[: len(r.first)] <= r.last for r in NETWORK_RANGES if len(number) >= len(r.first))


def card_network(number: str) -> str | None:
    """The card network whose range and lengths fit ``number`` (e.g. "unionpay"), or None."""
    for network_range in NETWORK_RANGES:
        if network_range.covers(number):
            return network_range.network
    return None


# Header aliases of the official UnionPay BIN table (its Chinese headers vary between releases) and of the
# shipped CSV (English). Each canonical column lists every header accepted for it.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "prefix": ("卡BIN(取值)", "卡BIN（取值）", "卡BIN取值", "卡BIN", "BIN", "BIN号", "bin", "prefix", "card_bin"),
    "length": ("卡号长度", "主账号长度", "卡长度", "length", "card_length", "pan_length"),
    "bank": ("发卡行名称", "发卡机构名称", "银行名称", "bank", "issuer", "bank_name"),
    "institution_code": ("机构代码", "发卡行机构代码", "机构号", "institution_code", "code", "issuer_code"),
    "card_name": ("卡名", "卡名称", "卡片名称", "card_name", "name", "product"),
    "card_kind": ("卡种", "卡种类", "卡类型", "卡性质", "card_kind", "kind", "card_type", "type"),
}
REQUIRED_COLUMNS = ("prefix", "bank", "card_name", "card_kind")

# Spellings of the four card kinds found in UnionPay exports and English tables.
KIND_ALIASES: dict[str, str] = {
    "借记卡": "借记卡",
    "借记": "借记卡",
    "debit": "借记卡",
    "贷记卡": "贷记卡",
    "贷记": "贷记卡",
    "信用卡": "贷记卡",
    "credit": "贷记卡",
    "准贷记卡": "准贷记卡",
    "准贷记": "准贷记卡",
    "semi-credit": "准贷记卡",
    "预付费卡": "预付费卡",
    "预付卡": "预付费卡",
    "预付费": "预付费卡",
    "prepaid": "预付费卡",
}


class BinTable:
    """Longest-prefix, length-aware BIN lookups over an in-memory table.

    Rows are indexed by prefix length, then prefix, then card-number length, so a lookup is at most one
    dict probe per distinct prefix length (a handful), never a scan.

    Parameters:
        records: the rows; a later row with the same (prefix, length) replaces an earlier one.

    Example::

        table = BinTable.load_default()
        record = table.lookup("6222030000000000000")   # 19 digits
        record.bank_info if record else None            # '中国工商银行(01020000)'
    """

    def __init__(self, records: Iterable[BinRecord] = ()) -> None:
        self._rows: dict[tuple[str, int | None], BinRecord] = {}
        for record in records:
            self._rows[(record.prefix, record.length)] = record
        self._index: dict[int, dict[str, dict[int | None, BinRecord]]] = {}
        for (prefix, length), record in self._rows.items():
            self._index.setdefault(len(prefix), {}).setdefault(prefix, {})[length] = record
        self._prefix_lengths = sorted(self._index, reverse=True)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"BinTable({len(self)} rows)"

    def records(self) -> Iterator[BinRecord]:
        """Every row, ordered by prefix then length (length-less rows first)."""
        yield from sorted(self._rows.values(), key=lambda r: (r.prefix, -1 if r.length is None else r.length))

    def lookup(self, number: str) -> BinRecord | None:
        """The row that issued ``number`` (digits only), or None when no row fits.

        The longest prefix wins; at one prefix, a row for exactly ``len(number)`` digits wins over a
        length-less row, and a row for another length never matches (the search goes on with shorter
        prefixes).

        Raises:
            ValueError: ``number`` is not a string of ASCII digits.
        """
        if not number or not number.isascii() or not number.isdigit():
            raise ValueError("a card number for BIN lookup must be a non-empty string of digits")
        length = len(number)
        for prefix_length in self._prefix_lengths:
            if prefix_length > length:
                continue
            by_length = self._index[prefix_length].get(number[:prefix_length])
            if by_length is None:
                continue
            record = by_length.get(length) or by_length.get(None)
            if record is not None:
                return record
        return None

    def plausible(self, number: str) -> bool:
        """True when some issuer could have issued ``number``: it lies in a card network's range at a length
        that network issues, or the table knows its prefix at that length (a row for exactly that length; a
        row for any length only outside every network's range). Non-digit input is implausible."""
        if not number or not number.isascii() or not number.isdigit():
            return False
        if not MIN_CARD_DIGITS <= len(number) <= MAX_CARD_DIGITS:
            return False
        if card_network(number) is not None:
            return True
        record = self.lookup(number)
        if record is None:
            return False
        # a row without a length says who issues the prefix, not at what lengths: inside a network's range
        # the network's lengths hold (a 15-digit number on a UnionPay BIN is a misread that dropped digits)
        return record.length is not None or not in_network_range(number)

    def overlaid_with(self, other: BinTable) -> BinTable:
        """A new table with ``other``'s rows; every prefix ``other`` names loses all of this table's rows,
        so an authoritative length-specific row is never shadowed by an older length-less one."""
        replaced = {record.prefix for record in other.records()}
        kept = (record for record in self.records() if record.prefix not in replaced)
        return BinTable([*kept, *other.records()])

    @classmethod
    def load_default(cls) -> BinTable:
        """The shipped table (``worker/recognizer/data/bins.csv``, built from cardbin plus curated rows)."""
        return cls.from_unionpay_csv(DEFAULT_TABLE_PATH)

    @classmethod
    def from_unionpay_csv(cls, path: str | Path, *, base: BinTable | None = None) -> BinTable:
        """Load the official UnionPay BIN table exported as CSV (UTF-8 or GB18030).

        Accepted headers (any one per column): 卡BIN(取值) / bin / prefix; 卡号长度 / length (optional);
        发卡行名称 / bank; 机构代码 / institution_code (optional); 卡名 / card_name; 卡种 / card_kind. Other
        columns are ignored. Rows override ``base`` (typically the shipped table): every prefix this file
        names replaces all of the base's rows for that prefix.

        Parameters:
            path: the CSV file.
            base: a table to layer the file's rows over; None for the file alone.

        Raises:
            BinTableError: unreadable file, a missing column (named), or a bad value (row and column named).
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise BinTableError(f"cannot read BIN table {path}: {exc.strerror or exc}") from exc
        text = _decode(raw, path)
        table = cls(_parse_rows(text, path))
        if len(table) == 0:
            raise BinTableError(f"BIN table {path} has no rows")
        return base.overlaid_with(table) if base is not None else table


@functools.cache
def default_table() -> BinTable:
    """The shipped table, loaded once per process."""
    return BinTable.load_default()


def _decode(raw: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BinTableError(f"BIN table {path} is neither UTF-8 nor GB18030 text")


def _header_map(header: list[str], path: Path) -> dict[str, int]:
    normalised = [cell.strip().lstrip("\ufeff") for cell in header]
    lowered = [cell.lower() for cell in normalised]
    positions: dict[str, int] = {}
    for column, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in normalised:
                positions[column] = normalised.index(alias)
                break
            if alias.lower() in lowered:
                positions[column] = lowered.index(alias.lower())
                break
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        wanted = "; ".join(f"{column} (one of: {', '.join(COLUMN_ALIASES[column])})" for column in missing)
        raise BinTableError(f"BIN table {path} lacks required column(s): {wanted}; header was {normalised}")
    return positions


def _parse_rows(text: str, path: Path) -> Iterator[BinRecord]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise BinTableError(f"BIN table {path} is empty")
    positions = _header_map(header, path)
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(column: str, row: list[str] = row) -> str:
            index = positions.get(column)
            return row[index].strip() if index is not None and index < len(row) else ""

        yield _record_from_cells(
            prefix=cell("prefix"),
            length=cell("length"),
            bank=cell("bank"),
            institution_code=cell("institution_code"),
            card_name=cell("card_name"),
            card_kind=cell("card_kind"),
            where=f"BIN table {path} row {row_number}",
        )


def _record_from_cells(
    *, prefix: str, length: str, bank: str, institution_code: str, card_name: str, card_kind: str, where: str
) -> BinRecord:
    prefix = prefix.lstrip("'")  # spreadsheets export text-typed numbers with a leading apostrophe
    if not (prefix.isascii() and prefix.isdigit() and MIN_PREFIX_DIGITS <= len(prefix) <= MAX_PREFIX_DIGITS):
        raise BinTableError(f"{where}: BIN {prefix!r} is not {MIN_PREFIX_DIGITS}-{MAX_PREFIX_DIGITS} digits")
    parsed_length: int | None = None
    if length:
        if not (length.isascii() and length.isdigit() and MIN_CARD_DIGITS <= int(length) <= MAX_CARD_DIGITS):
            raise BinTableError(f"{where}: card length {length!r} is not {MIN_CARD_DIGITS}-{MAX_CARD_DIGITS}")
        parsed_length = int(length)
    if not bank:
        raise BinTableError(f"{where}: the bank name is empty")
    code = institution_code.lstrip("'")
    if code and not (code.isascii() and code.isdigit() and len(code) <= 8):
        raise BinTableError(f"{where}: institution code {institution_code!r} is not up to 8 digits")
    kind = KIND_ALIASES.get(card_kind.strip().lower())
    if kind is None:
        raise BinTableError(f"{where}: card kind {card_kind!r} is not one of {', '.join(CARD_KINDS)}")
    return BinRecord(
        prefix=prefix,
        length=parsed_length,
        bank=bank,
        institution_code=code.zfill(8) if code else None,
        card_name=card_name,
        card_kind=kind,
    )
