"""Card furniture: bank name and emblem, chip, contactless mark, network logo, small print.

Why: a reader must find the number among everything else printed on a card, including other digits (a
hotline number) and text in two scripts, so the generator prints that clutter where real cards have it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from scripts.cards import fonts
from scripts.cards.spec import CARD_HEIGHT, CARD_WIDTH, RGB, CardSpec, luminance


def contrasting(colour: RGB) -> RGB:
    return (250, 250, 250) if luminance(colour) < 150 else (25, 25, 30)


def bank_header(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> str:
    colour = contrasting(spec.base_colour)
    x, y = int(rng.integers(40, 70)), int(rng.integers(28, 50))
    emblem = int(rng.integers(44, 60))
    draw.ellipse((x, y, x + emblem, y + emblem), fill=(*spec.accent_colour, 255), outline=colour, width=3)
    hole = emblem // 4
    centre = (x + emblem // 2, y + emblem // 2)
    draw.rectangle((centre[0] - hole, centre[1] - hole, centre[0] + hole, centre[1] + hole), fill=colour)
    bank = spec.number.record.bank
    if fonts.cjk_available():
        font = fonts.load(fonts.CJK_FACE, int(rng.integers(34, 46)))
        draw.text((x + emblem + 14, y + 4), bank, font=font.font, fill=colour)
        return font.name
    font = fonts.load(fonts.LABEL_FACE, 34)
    draw.text((x + emblem + 14, y + 6), "BANK", font=font.font, fill=colour)
    return font.name


def chip(face: Image.Image, rng: np.random.Generator) -> None:
    x, y = int(rng.integers(85, 120)), int(rng.integers(165, 205))
    width, height = int(rng.integers(96, 118)), int(rng.integers(74, 88))
    gold = rng.random() < 0.7
    top, bottom = ((238, 210, 140), (180, 140, 60)) if gold else ((225, 225, 228), (150, 150, 158))
    ramp = np.linspace(0, 1, height)[:, None, None]
    pixels = np.array(top)[None, None, :] * (1 - ramp) + np.array(bottom)[None, None, :] * ramp
    chip = Image.fromarray(np.repeat(pixels, width, axis=1).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(chip)
    line = tuple(int(c * 0.7) for c in bottom)
    for fraction in (0.33, 0.66):
        draw.line((0, int(height * fraction), width, int(height * fraction)), fill=line, width=2)
    draw.line((width // 2, 0, width // 2, height), fill=line, width=2)
    draw.rounded_rectangle((width * 0.3, height * 0.2, width * 0.7, height * 0.8), radius=6, outline=line, width=2)
    mask = Image.new("L", chip.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width - 1, height - 1), radius=12, fill=255)
    face.paste(chip, (x, y), mask)
    # contactless waves beside the chip
    draw_face = ImageDraw.Draw(face)
    colour = contrasting(tuple(int(c) for c in np.array(face.getpixel((x + width + 40, y + height // 2)))[:3]))  # type: ignore[arg-type]
    for step in range(4):
        r = 8 + step * 8
        cx, cy = x + width + 22, y + height // 2
        draw_face.arc((cx - r, cy - r, cx + r, cy + r), start=-45, end=45, fill=colour, width=3)


def network_logo(draw: ImageDraw.ImageDraw, spec: CardSpec) -> None:
    right, bottom = CARD_WIDTH - 40, CARD_HEIGHT - 36
    network = spec.number.network
    if network == "unionpay":
        width, height = 150, 92
        left, top = right - width, bottom - height
        colours = ((226, 24, 54), (0, 68, 124), (0, 123, 132))
        band = width // 3
        for index, colour in enumerate(colours):
            x0 = left + index * band
            draw.polygon(
                [(x0 + 14, top), (x0 + band + 12, top), (x0 + band - 6, bottom), (x0 - 8, bottom)], fill=colour
            )
        if fonts.cjk_available():
            draw.text((left + 30, top + 10), "银联", font=fonts.load(fonts.CJK_FACE, 34).font, fill=(255, 255, 255))
        draw.text((left + 16, top + 56), "UnionPay", font=fonts.load(fonts.LABEL_FACE, 22).font, fill=(255, 255, 255))
    elif network == "visa":
        colour = (255, 255, 255) if luminance(spec.base_colour) < 150 else (26, 31, 113)
        draw.text((right - 150, bottom - 62), "VISA", font=fonts.load(fonts.LABEL_FACE, 58).font, fill=colour)
    else:
        r = 38
        cy = bottom - r
        draw.ellipse((right - 3 * r - 20, cy - r, right - r - 20, cy + r), fill=(235, 0, 27))
        draw.ellipse((right - 2 * r - 20 - r // 2, cy - r, right - 20 - r // 2, cy + r), fill=(247, 158, 27))


def slogans(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    colour = contrasting(spec.base_colour)
    y = int(rng.integers(110, 150))
    for slogan in spec.slogans:
        size = int(rng.integers(16, 26))
        width = mixed_width(slogan, size)
        draw_mixed(draw, (CARD_WIDTH - 50 - width, y), slogan, size, colour)
        y += 34


def _script_runs(text: str) -> list[str]:
    """Split ``text`` into runs of CJK and non-CJK characters (each face covers only one script)."""
    runs: list[str] = []
    for char in text:
        if runs and fonts.is_cjk(runs[-1][-1]) == fonts.is_cjk(char):
            runs[-1] += char
        else:
            runs.append(char)
    return runs


def mixed_width(text: str, size: int) -> int:
    return int(sum(fonts.load(fonts.text_face(run), size).font.getlength(run) for run in _script_runs(text)))


def draw_mixed(draw: ImageDraw.ImageDraw, origin: tuple[int, int], text: str, size: int, fill: RGB) -> None:
    """Draw text that mixes Chinese and Latin, each run in a face that has its glyphs."""
    x, y = origin
    for run in _script_runs(text):
        font = fonts.load(fonts.text_face(run), size)
        draw.text((x, y), run, font=font.font, fill=fill)
        x += int(font.font.getlength(run))
