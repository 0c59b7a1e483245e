"""Cards built to tempt the recognizer into a wrong number: a Luhn-valid rival, a worn digit.

Why: the recognizer's promise is that a number answered with code 0 is right, and that an unsure read ends as
-9011 instead. Random cards rarely test that promise at its edge; these do, on purpose:

* a **Luhn-valid rival**: the number has two 8s at positions Luhn does not double, so reading both as 3 (the
  left half of an 8 worn away) gives another number that passes Luhn and the BIN check; both digits are worn;
* a **worn digit**: one digit of the number is scuffed out in its middle, so no read of it is sure.

The face is drawn flat in OCR-A on a plain card, photographed straight on a plain background: whatever
goes wrong is the worn digits, nothing else.

>>> number = rival_pair_number(np.random.default_rng(3))
>>> rival = as_rival(number)
>>> luhn_valid(number), luhn_valid(rival), sum(a != b for a, b in zip(number, rival))
(True, True, 2)
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from scripts.cards import fonts
from scripts.cards.numbers import CardNumber, build_pools
from scripts.cards.render import render_card_with_layout
from scripts.cards.spec import CARD_HEIGHT, CARD_WIDTH, sample_spec
from worker.recognizer.bins import BinTable, card_network, default_table, luhn_check_digit

#: A UnionPay debit BIN of the shipped table (China Merchants Bank, 16 digits).
RIVAL_BIN = "622588"


def _undoubled(length: int) -> list[int]:
    """Positions Luhn does not double: the check digit and every second digit leftwards from it."""
    return [index for index in range(length) if (length - 1 - index) % 2 == 0]


def rival_pair_number(rng: np.random.Generator, *, prefix: str = RIVAL_BIN, length: int = 16) -> str:
    """A Luhn-valid number with 8s at exactly two undoubled body positions after the BIN, so that
    :func:`as_rival` turns it into another Luhn-valid number."""
    sites = [i for i in _undoubled(length) if len(prefix) <= i < length - 1]
    while True:
        body = [int(d) for d in rng.integers(0, 10, size=length - len(prefix) - 1)]
        digits = [*map(int, prefix), *body]
        for index in range(len(prefix), length - 1):
            if digits[index] == 8:
                digits[index] = 0
        first, second = sorted(rng.choice(sites, size=2, replace=False))
        digits[first] = digits[second] = 8
        partial = "".join(map(str, digits))
        number = partial + luhn_check_digit(partial)
        if number[-1] != "8":
            return number


def as_rival(number: str) -> str:
    """``number`` with its two 8s after the BIN read as 3s (a Luhn-valid rival by construction)."""
    head, tail = number[: len(RIVAL_BIN)], number[len(RIVAL_BIN): -1]
    return head + tail.replace("8", "3") + number[-1]


def adversarial_card(number: str, worn: list[int], *, wear: str, fade: float = 1.0, seed: int = 0,
                     table: BinTable | None = None) -> Image.Image:
    """A photo of a flat-printed OCR-A card with ``number`` (grouped 4-4-4-4), digits ``worn`` damaged.

    Parameters:
        number: the 16 digits to print.
        worn: indexes (into ``number``) of the digits to damage.
        wear: "left half" (the left half of each digit worn: an 8 then looks like a 3) or "scuff" (a band
            across the middle of each digit worn: no digit is certain).
        fade: how much of the ink the wear removes, 0..1 (1: the card's colour only; 0.6: faint traces).
        seed: the random generator of the card's artwork and layout.
    """
    table = table or default_table()
    rng = np.random.default_rng(seed)
    spec = sample_spec(table, build_pools(table), "clean", rng)
    record = table.lookup(number)
    network = card_network(number)
    if record is None or network is None:
        raise ValueError("the number must have an issuer in the BIN table")
    printed = CardNumber(number, (4, 4, 4, 4), record, network)
    spec = dataclasses.replace(spec, number=printed, digit_face=fonts.DIGIT_FACES[0], style="flat",
                               art_behind_digits=False, ink=(20, 20, 25), base_colour=(225, 228, 232))
    face, layout = render_card_with_layout(spec, rng)
    pixels = np.asarray(face.convert("RGB"), dtype=np.float32).copy()
    left, top, right, bottom = layout.number_box
    pitch = (right - left) / len(printed.printed)
    colour = np.array(_card_colour(pixels, layout.number_box), dtype=np.float32)
    for index in worn:
        column = index + index // 4  # the group spaces before it
        x0, x1 = left + column * pitch, left + (column + 1) * pitch
        if wear == "left half":
            box = (x0 - 1, top - 2, x0 + 0.5 * pitch, bottom + 2)
        elif wear == "scuff":
            middle = (top + bottom) / 2
            box = (x0 - 1, middle - 0.18 * (bottom - top), x1 + 1, middle + 0.18 * (bottom - top))
        else:
            raise ValueError(f"unknown wear {wear!r}")
        rows, columns = slice(int(box[1]), int(box[3]) + 1), slice(int(box[0]), int(box[2]) + 1)
        pixels[rows, columns] = pixels[rows, columns] * (1 - fade) + colour * fade
    card = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    frame = Image.new("RGB", (int(CARD_WIDTH * 1.25), int(CARD_HEIGHT * 1.3)), (120, 124, 130))
    frame.paste(card, ((frame.width - CARD_WIDTH) // 2, (frame.height - CARD_HEIGHT) // 2))
    return frame


def _card_colour(pixels: np.ndarray, number_box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """The card's colour just above the number line (what a worn-off digit leaves behind)."""
    left, top, right, _ = number_box
    strip = pixels[max(0, top - 12):max(1, top - 4), left:right]
    median = np.median(strip.reshape(-1, 3), axis=0)
    return (int(median[0]), int(median[1]), int(median[2]))
