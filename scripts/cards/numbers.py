"""Card numbers that a real issuer could have printed: real BINs, real lengths, Luhn-valid, real groupings.

Why real BINs: the recognizer accepts a number only when its issuer is plausible and answers the bank
fields from the BIN table, so synthetic numbers must come from that same table at a length the table allows.
The label's bank is what the table answers for the number (longest prefix, length-aware), not what was
sampled, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.recognizer.bins import BinRecord, BinTable, card_network, luhn_check_digit

# How digits are spaced on the card, by number length. 19-digit numbers come in three layouts.
GROUPINGS: dict[int, tuple[tuple[int, ...], ...]] = {
    16: ((4, 4, 4, 4),),
    19: ((6, 13), (4, 4, 4, 4, 3), (19,)),
}


@dataclass(frozen=True)
class CardNumber:
    """A minted number, how it is grouped on the card, and the table row that issued it."""

    digits: str
    grouping: tuple[int, ...]
    record: BinRecord
    network: str

    @property
    def printed(self) -> str:
        """The number as printed: groups separated by one space."""
        parts, start = [], 0
        for size in self.grouping:
            parts.append(self.digits[start : start + size])
            start += size
        return " ".join(parts)


@dataclass(frozen=True)
class BinPools:
    """Candidate table rows split by the network they belong to, each with the lengths they allow."""

    unionpay: tuple[tuple[BinRecord, tuple[int, ...]], ...]
    international_credit: tuple[tuple[BinRecord, tuple[int, ...]], ...]


def _lengths_for(record: BinRecord) -> tuple[int, ...]:
    if record.length is not None:
        return (record.length,) if record.length in GROUPINGS else ()
    if record.prefix.startswith("62"):
        return (16,) if record.card_kind in ("贷记卡", "准贷记卡") else (19, 19, 16)
    return (16,)


def build_pools(table: BinTable) -> BinPools:
    """Split the table into UnionPay rows (62...) and international credit rows (Visa 4..., Mastercard 5...)."""
    unionpay: list[tuple[BinRecord, tuple[int, ...]]] = []
    international: list[tuple[BinRecord, tuple[int, ...]]] = []
    for record in table.records():
        lengths = _lengths_for(record)
        if not lengths or len(record.prefix) != 6:
            continue
        if record.prefix.startswith("62"):
            unionpay.append((record, lengths))
        elif record.prefix[0] in "45" and record.card_kind == "贷记卡":
            international.append((record, lengths))
    return BinPools(tuple(unionpay), tuple(international))


def mint(table: BinTable, pools: BinPools, rng: np.random.Generator, *, unionpay_share: float = 0.8,
         nineteen_share: float | None = None, grouping: tuple[int, ...] | None = None) -> CardNumber:
    """A Luhn-valid number on a real BIN, retried until the table's own lookup agrees on its issuer.

    With ``nineteen_share``, that share of the numbers is 19 digits long (UnionPay debit BINs that issue
    19 digits); without it, lengths follow the BIN table's rows. A ``grouping`` (one of
    :data:`GROUPINGS`' 19-digit layouts) forces every number to 19 digits printed that way.
    """
    if grouping is not None and grouping not in GROUPINGS[19]:
        raise ValueError(f"a forced grouping must be a 19-digit layout of {GROUPINGS[19]}, not {grouping}")
    wants_nineteen = grouping is not None or (nineteen_share is not None and rng.random() < nineteen_share)
    nineteen_pool = tuple(entry for entry in pools.unionpay if 19 in entry[1]) if wants_nineteen else ()
    for _ in range(100):
        if nineteen_pool:
            record, _lengths = nineteen_pool[int(rng.integers(len(nineteen_pool)))]
            length = 19
        else:
            wants_unionpay = rng.random() < unionpay_share
            pool = (pools.unionpay if wants_unionpay and pools.unionpay
                    else pools.international_credit or pools.unionpay)
            record, lengths = pool[int(rng.integers(len(pool)))]
            length = int(lengths[int(rng.integers(len(lengths)))])
        body = record.prefix + "".join(str(d) for d in rng.integers(0, 10, size=length - len(record.prefix) - 1))
        digits = body + luhn_check_digit(body)
        issued_by = table.lookup(digits)
        network = card_network(digits)
        if issued_by is None or network is None:
            continue
        groupings = GROUPINGS[length]
        drawn = groupings[int(rng.integers(len(groupings)))]
        return CardNumber(digits, grouping or drawn, issued_by, network)
    raise RuntimeError("the BIN table yields no usable 16- or 19-digit card numbers")


#: How a card may print a month and year; the API always answers ``MM/YYYY``.
DATE_FORMS = ("MM/YY", "MM/YYYY", "YYYY/MM", "YY/MM")


def format_date(month: int, year: int, form: str) -> str:
    """``month``/``year`` as a card prints it in ``form`` (one of :data:`DATE_FORMS`)."""
    short = f"{year % 100:02d}"
    return {"MM/YY": f"{month:02d}/{short}", "MM/YYYY": f"{month:02d}/{year:04d}",
            "YYYY/MM": f"{year:04d}/{month:02d}", "YY/MM": f"{short}/{month:02d}"}[form]


@dataclass(frozen=True)
class PrintedDate:
    """A month/year printed on a card, with the label beside it (none: an empty tuple).

    ``since`` makes it a range, valid-from then thru under one label ("05/19-05/29"); the later date,
    ``month``/``year``, is the expiry.
    """

    label: tuple[str, ...]
    month: int
    year: int
    form: str = "MM/YY"
    since: tuple[int, int] | None = None
    range_separator: str = "-"

    @property
    def text(self) -> str:
        """As printed on the card, e.g. ``MM/YY`` or ``YYYY/MM-YYYY/MM``."""
        thru = format_date(self.month, self.year, self.form)
        if self.since is None:
            return thru
        return format_date(*self.since, self.form) + self.range_separator + thru

    @property
    def api_text(self) -> str:
        """As the API answers it (有效期): ``MM/YYYY``."""
        return f"{self.month:02d}/{self.year:04d}"


def expiry_date(rng: np.random.Generator) -> tuple[int, int]:
    """A plausible expiry month and year."""
    return int(rng.integers(1, 13)), int(rng.integers(2024, 2036))


def earlier_date(rng: np.random.Generator, year: int) -> tuple[int, int]:
    """A month and year some years before ``year`` (for MEMBER SINCE / VALID FROM)."""
    return int(rng.integers(1, 13)), int(year - rng.integers(1, 8))
