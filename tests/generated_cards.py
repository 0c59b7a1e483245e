"""One card of ``scripts/make_cards.py``'s sets, drawn alone and read: for tests pinned to a particular card."""

from __future__ import annotations

from pathlib import Path

from worker.api.legacy.schema import BankCardResponse
from worker.recognizer.bins import default_table
from worker.recognizer.service import Recognizer


def read_generated_card(recognizer: Recognizer, folder: Path, level: str, seed: int, index: int,
                        grouping: tuple[int, ...] | None = None) -> tuple[str, BankCardResponse]:
    """The printed number of card ``index`` of ``scripts/make_cards.py``'s set (level, seed), and the answer
    the recognizer gives for it: one card drawn alone into ``folder``, as the whole set would draw it."""
    from scripts.cards.numbers import build_pools
    from scripts.make_cards import make_card

    table = default_table()
    label = make_card(folder, index, level, seed, build_pools(table), table, None, grouping)
    return label["number"], recognizer.recognize((folder / label["file"]).read_bytes())
