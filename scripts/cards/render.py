"""Draw the face of a card (856 x 540 px, the ISO ID-1 ratio) from a :class:`CardSpec`.

Why it looks the way it does: the recognizer is measured on these images and real cards are hard in
specific ways, so the face reproduces them: artwork and guilloche behind the digits, embossed digits that
are raised plastic in the card's own colour (only their lit and shaded edges show), foil tipping in silver
or gold that wears off, low-contrast flat print, plus the clutter around the number that a reader must
ignore (bank name, network logo, chip, holder name, MEMBER SINCE dates).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from scripts.cards import fonts
from scripts.cards.art import paint_artwork
from scripts.cards.furniture import bank_header, chip, contrasting, draw_mixed, mixed_width, network_logo, slogans
from scripts.cards.numbers import PrintedDate
from scripts.cards.spec import CARD_HEIGHT, CARD_WIDTH, FOILS, RGB, CardSpec

CORNER_RADIUS = 34
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class CardLayout:
    """Where the fields were drawn, in card pixels (left, top, right, bottom)."""

    number_box: Box
    expiry_box: Box | None
    distractor_box: Box | None
    digit_font: str
    text_font: str


def render_card(spec: CardSpec, rng: np.random.Generator) -> Image.Image:
    """The card face as an RGBA image (transparent outside the rounded corners).

    Parameters:
        spec: what to draw (see :func:`scripts.cards.spec.sample_spec`).
        rng: the card's random generator; the same state gives the same pixels.
    """
    return render_card_with_layout(spec, rng)[0]


def render_card_with_layout(spec: CardSpec, rng: np.random.Generator) -> tuple[Image.Image, CardLayout]:
    """The card face and where its number and dates are, for labels and for aiming glare at the number."""
    face = paint_artwork(spec, rng)
    draw = ImageDraw.Draw(face)
    text_font = bank_header(draw, spec, rng)
    chip(face, rng)
    network_logo(draw, spec)
    slogans(draw, spec, rng)

    digit_size = spec.number_size
    number_font = fonts.load(spec.digit_face, digit_size)
    while _text_width(number_font, spec.number.printed) > CARD_WIDTH - spec.number_origin[0] - 40 and digit_size > 24:
        digit_size -= 2
        number_font = fonts.load(spec.digit_face, digit_size)
    relief = Image.new("L", face.size, 0)
    relief_draw = ImageDraw.Draw(relief)
    x, y = spec.number_origin
    relief_draw.text((x, y), spec.number.printed, font=number_font.font, fill=255)
    number_box = _bbox(relief_draw, (x, y), spec.number.printed, number_font)

    small_size = max(18, int(digit_size * 0.6))
    small_font = fonts.load(spec.digit_face, small_size)
    label_font = fonts.load(fonts.LABEL_FACE, max(10, int(small_size * 0.42)))
    date_y = number_box[3] + int(rng.integers(14, 30))
    expiry_box = distractor_box = None
    cursor_x = int(rng.integers(90, 150))
    if spec.distractor is not None:
        distractor_box, cursor_x = _dated_field(
            draw, relief_draw, spec, spec.distractor, cursor_x, date_y, small_font, label_font
        )
        cursor_x += int(rng.integers(40, 90))
    else:
        cursor_x += int(rng.integers(120, 220))
    if spec.expiry is not None:
        expiry_box, _ = _dated_field(draw, relief_draw, spec, spec.expiry, cursor_x, date_y, small_font, label_font)

    holder_font = fonts.load(spec.digit_face, max(16, int(digit_size * 0.48)))
    holder_y = min(CARD_HEIGHT - 60, date_y + small_size + int(rng.integers(18, 34)))
    relief_draw.text((int(rng.integers(70, 110)), holder_y), spec.holder, font=holder_font.font, fill=255)

    face = _apply_digits(face, relief, spec, rng)
    if spec.wear > 0:
        face = _wear(face, spec.wear, rng)
    card = face.convert("RGBA")
    card.putalpha(_rounded_mask())
    layout = CardLayout(number_box, expiry_box, distractor_box, number_font.name, text_font)
    return card, layout


def _dated_field(
    draw: ImageDraw.ImageDraw,
    relief_draw: ImageDraw.ImageDraw,
    spec: CardSpec,
    date: PrintedDate,
    x: int,
    y: int,
    date_font: fonts.LoadedFont,
    label_font: fonts.LoadedFont,
) -> tuple[Box, int]:
    """A label (printed flat, small) followed by its MM/YY (drawn like the number); returns the date's box."""
    label_colour = contrasting(spec.base_colour)
    label_size = int(getattr(label_font.font, "size", 12))
    line_height = label_size + 2
    label_width = 0
    lines = date.label
    top = y + max(0, (int(getattr(date_font.font, "size", 20)) - line_height * len(lines)) // 2)
    for index, line in enumerate(lines):
        draw_mixed(draw, (x, top + index * line_height), line, label_size, label_colour)
        label_width = max(label_width, mixed_width(line, label_size))
    date_x = x + label_width + 10
    relief_draw.text((date_x, y), date.text, font=date_font.font, fill=255)
    box = _bbox(relief_draw, (date_x, y), date.text, date_font)
    return box, box[2]


def _apply_digits(face: Image.Image, relief: Image.Image, spec: CardSpec, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(face, dtype=np.float32)
    mask = np.asarray(relief, dtype=np.float32) / 255.0
    if spec.style == "flat":
        ink = np.array(spec.ink, dtype=np.float32)
        soft = cv2.GaussianBlur(mask, (0, 0), 0.6)[..., None]
        return Image.fromarray(np.clip(pixels * (1 - soft) + ink * soft, 0, 255).astype(np.uint8), "RGB")

    # Raised plastic: the glyph face keeps the card's colour; light from the top left (the top right, or the
    # card's own direction, for a profile that says so) brightens the edges that face it and darkens the
    # others, and the glyph casts a soft shadow away from the light.
    height_map = cv2.GaussianBlur(mask, (0, 0), 1.4)
    grad_x = cv2.Sobel(height_map, cv2.CV_32F, 1, 0, ksize=3)
    grad_y = cv2.Sobel(height_map, cv2.CV_32F, 0, 1, ksize=3)
    weight_x, weight_y, shadow_rows, shadow_columns = emboss_light(spec)
    shading = (weight_x * grad_x + weight_y * grad_y) / 4.0  # positive on edges facing the light
    shadow = cv2.GaussianBlur(mask, (0, 0), 2.0)
    shadow = np.roll(np.roll(shadow, shadow_rows, axis=0), shadow_columns, axis=1) * (1 - mask)
    relief_strength = spec.emboss_relief
    lit = pixels + (255.0 - pixels) * np.clip(shading, 0, 1)[..., None] * relief_strength * 1.6
    lit = lit * (1 - np.clip(-shading, 0, 1)[..., None] * relief_strength * 1.4)
    lit = lit * (1 - shadow[..., None] * relief_strength * 0.45)
    if spec.style == "foil":
        foil = _foil_layer(mask.shape, FOILS[spec.foil or "silver"], rng)
        coverage = cv2.erode(mask, np.ones((2, 2), np.uint8))
        if spec.wear > 0:
            # foil wears off the tops of the digits first, in blotches
            blotches = cv2.GaussianBlur(rng.random(mask.shape).astype(np.float32), (0, 0), 3.0)
            blotches = (blotches - blotches.min()) / max(float(blotches.max() - blotches.min()), 1e-6)
            coverage = coverage * np.clip((blotches - spec.wear * 0.5) * 6.0, 0, 1)
        lit = lit * (1 - coverage[..., None]) + foil * coverage[..., None]
    return Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8), "RGB")


def emboss_light(spec: CardSpec) -> tuple[float, float, int, int]:
    """How the light shades raised digits: the weights of the height map's x and y slopes, and the shadow's
    offset in rows and columns (away from the light).

    A profile's fixed light keeps the exact weights its cards were always drawn with (top left: 0.7, 0.7 and
    a shadow 3 px down and right), so their pixels do not change.
    """
    if spec.light_azimuth_deg is None:
        side = -1 if spec.profile.light_from_right else 1
        return side * 0.7, 0.7, 3, 3 * side
    azimuth = np.radians(spec.light_azimuth_deg)
    # towards the light in image coordinates (x right, y down): (cos, -sin); an edge faces the light where the
    # height falls towards it
    toward_x, toward_y = float(np.cos(azimuth)), -float(np.sin(azimuth))
    reach = 3 * 2**0.5  # the fixed lights' shadow: 3 px down and 3 across
    return -0.99 * toward_x, -0.99 * toward_y, round(-reach * toward_y), round(-reach * toward_x)


def _foil_layer(shape: tuple[int, ...], colour: RGB, rng: np.random.Generator) -> np.ndarray:
    height, width = shape[:2]
    ramp = np.linspace(1.12, 0.78, height, dtype=np.float32)[:, None]
    sheen = 1 + 0.08 * np.sin(np.linspace(0, rng.uniform(4, 12), width, dtype=np.float32))[None, :]
    grain = 1 + rng.normal(0, 0.03, size=(height, width)).astype(np.float32)
    return np.clip(np.array(colour, np.float32)[None, None, :] * (ramp * sheen * grain)[..., None], 0, 255)


def _wear(face: Image.Image, amount: float, rng: np.random.Generator) -> Image.Image:
    """Scratches and scuffs, more of them as ``amount`` grows."""
    layer = Image.new("RGBA", face.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(int(amount * 60)):
        x, y = rng.uniform(0, CARD_WIDTH), rng.uniform(0, CARD_HEIGHT)
        length, angle = rng.uniform(10, 160), rng.uniform(0, np.pi)
        shade = int(rng.choice([230, 40]))
        draw.line(
            (x, y, x + length * np.cos(angle), y + length * np.sin(angle)),
            fill=(shade, shade, shade, int(rng.integers(30, 110))),
            width=1,
        )
    layer = layer.filter(ImageFilter.GaussianBlur(0.4))
    face = face.convert("RGBA")
    face.alpha_composite(layer)
    return face.convert("RGB")


# --- helpers ----------------------------------------------------------------------------------------------


def _rounded_mask() -> Image.Image:
    mask = Image.new("L", (CARD_WIDTH, CARD_HEIGHT), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, CARD_WIDTH - 1, CARD_HEIGHT - 1), radius=CORNER_RADIUS, fill=255)
    return mask


def _text_width(font: fonts.LoadedFont, text: str) -> int:
    left, _, right, _ = font.font.getbbox(text)
    return int(right - left)


def _bbox(draw: ImageDraw.ImageDraw, origin: tuple[int, int], text: str, font: fonts.LoadedFont) -> Box:
    left, top, right, bottom = draw.textbbox(origin, text, font=font.font)
    return (int(left), int(top), int(right), int(bottom))
