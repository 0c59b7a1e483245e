"""One outcome as one flat table row: what a data team loads into a warehouse.

Results and dead letters share the columns; a dead letter's card fields are empty and its ``code`` and
``reason`` say why. ``bank`` and ``institution_code`` are split out of 银行信息 (``name(8-digit code)``).

>>> COLUMNS[:6]
('location', 'task_id', 'run_id', 'status', 'code', 'reason')
>>> split_bank_info("招商银行(03080000)")
('招商银行', '03080000')
"""

from __future__ import annotations

import re
from typing import Any

from worker.api.legacy.schema import CardField
from worker.tasks import DeadLetter, Result

#: The export's columns, in order.
COLUMNS: tuple[str, ...] = (
    "location", "task_id", "run_id", "status", "code", "reason",
    "card_number", "card_number_hmac", "bank", "institution_code", "card_name", "card_kind", "expiry",
    "card_number_conf", "card_kind_conf", "card_name_conf", "bank_conf", "expiry_conf",
    "attempts", "worker", "processed_at",
)
#: Columns holding a confidence in [0, 1] (floats; empty for dead letters).
CONFIDENCE_COLUMNS = ("card_number_conf", "card_kind_conf", "card_name_conf", "bank_conf", "expiry_conf")

_BANK_INFO = re.compile(r"^(?P<name>.*?)\s*\((?P<code>\d{8})\)\s*$")


def split_bank_info(value: str) -> tuple[str, str]:
    """(bank name, institution code) from 银行信息; the code is "" when the value carries none."""
    match = _BANK_INFO.match(value or "")
    return (match["name"], match["code"]) if match else (value or "", "")


def _items(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items = (response.get("data") or {}).get("items") or []
    return {item.get("item"): item for item in items if isinstance(item, dict)}


def result_row(result: Result) -> dict[str, Any]:
    if "CardNo" in result.response:
        return _v3_result_row(result)
    items = _items(result.response)

    def text(name: CardField) -> str:
        return str((items.get(name.value) or {}).get("itemstring") or "")

    def conf(name: CardField) -> float | None:
        item = items.get(name.value)
        return float(item.get("itemconf") or 0.0) if item else None

    bank, institution = split_bank_info(text(CardField.BANK_INFO))
    return {
        "location": result.location, "task_id": result.task_id, "run_id": result.run_id, "status": "ok",
        "code": str(result.code), "reason": "",
        "card_number": text(CardField.CARD_NUMBER), "card_number_hmac": result.card_number_hmac,
        "bank": bank, "institution_code": institution, "card_name": text(CardField.CARD_NAME),
        "card_kind": text(CardField.CARD_KIND), "expiry": text(CardField.EXPIRY),
        "card_number_conf": conf(CardField.CARD_NUMBER), "card_kind_conf": conf(CardField.CARD_KIND),
        "card_name_conf": conf(CardField.CARD_NAME), "bank_conf": conf(CardField.BANK_INFO),
        "expiry_conf": conf(CardField.EXPIRY),
        "attempts": result.attempts, "worker": result.worker, "processed_at": result.processed_at,
    }


def _v3_result_row(result: Result) -> dict[str, Any]:
    """An API 3.0 answer (``upstream.protocol: v3``): the same fields, no per-field confidence."""
    answer = result.response
    bank, institution = split_bank_info(str(answer.get("BankInfo") or ""))
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update({
        "location": result.location, "task_id": result.task_id, "run_id": result.run_id, "status": "ok",
        "code": str(result.code), "reason": "", "card_number": str(answer.get("CardNo") or ""),
        "card_number_hmac": result.card_number_hmac, "bank": bank, "institution_code": institution,
        "card_name": str(answer.get("CardName") or ""), "card_kind": str(answer.get("CardType") or ""),
        "expiry": str(answer.get("ValidDate") or ""), "attempts": result.attempts, "worker": result.worker,
        "processed_at": result.processed_at,
    })
    return row


def dead_letter_row(dead: DeadLetter) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update({
        "location": dead.location, "task_id": dead.task_id, "run_id": dead.run_id, "status": "dead",
        "code": dead.code, "reason": dead.reason, "attempts": dead.attempts, "worker": dead.worker,
        "processed_at": dead.processed_at,
    })
    return row
