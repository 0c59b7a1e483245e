"""Card artwork: the gradients, guilloche, waves and shapes printed on card faces, digits band included.

Why: on real cards the number sits on top of artwork, and a reader that only works on plain backgrounds
fails there. Each painter draws translucent shapes in the card's accent colour (or white/black), so the
artwork changes the local contrast behind the digits without hiding them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from scripts.cards.spec import CARD_HEIGHT, CARD_WIDTH, CardSpec, luminance


def paint_artwork(spec: CardSpec, rng: np.random.Generator) -> Image.Image:
    """The card's printed background (RGB, card size): a two-colour gradient plus ``spec.art`` layers."""
    height, width = CARD_HEIGHT, CARD_WIDTH
    base = np.array(spec.base_colour, dtype=np.float32)
    accent = np.array(spec.accent_colour, dtype=np.float32)
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (xs * np.cos(angle) + ys * np.sin(angle)) / (width * abs(np.cos(angle)) + height * abs(np.sin(angle)))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    mix = float(rng.uniform(0.1, 0.45))
    pixels = base[None, None, :] * (1 - mix * t[..., None]) + accent[None, None, :] * (mix * t[..., None])
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")

    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for kind in spec.art:
        ART_PAINTERS[kind](draw, spec, rng)
    if not spec.art_behind_digits:
        # keep the band behind the number quiet, as on plainer card designs
        band = Image.new("L", (width, height), 255)
        ImageDraw.Draw(band).rectangle((0, spec.number_origin[1] - 30, width, spec.number_origin[1] + 110), fill=60)
        layer.putalpha(
            Image.fromarray((np.array(layer.getchannel("A"), np.float32) * np.array(band) / 255).astype(np.uint8))
        )
    image.paste(layer, (0, 0), layer)
    return image


def _tone(rng: np.random.Generator, spec: CardSpec, alpha: tuple[int, int]) -> tuple[int, int, int, int]:
    """A translucent ink for artwork: mostly the accent colour, else white on dark cards and black on light."""
    if rng.random() < 0.6:
        source = spec.accent_colour
    else:
        source = (255, 255, 255) if luminance(spec.base_colour) < 150 else (0, 0, 0)
    return (*source, int(rng.integers(*alpha)))


def _paint_gradient(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = int(rng.integers(-200, CARD_WIDTH)), int(rng.integers(-200, CARD_HEIGHT))
        size = int(rng.integers(250, 700))
        draw.ellipse((x0, y0, x0 + size, y0 + size), fill=_tone(rng, spec, (20, 60)))


def _paint_waves(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    xs = np.arange(0, CARD_WIDTH + 8, 8)
    amplitude, period = rng.uniform(10, 60), rng.uniform(180, 500)
    for row in range(int(rng.integers(8, 30))):
        offset = rng.uniform(-40, CARD_HEIGHT + 40)
        phase = row * rng.uniform(0.05, 0.3)
        ys = offset + amplitude * np.sin(xs / period * 2 * np.pi + phase)
        draw.line(
            list(zip(xs.tolist(), ys.tolist(), strict=True)),
            fill=_tone(rng, spec, (40, 110)),
            width=int(rng.integers(1, 4)),
        )


def _paint_guilloche(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    cx, cy = rng.uniform(0, CARD_WIDTH), rng.uniform(0, CARD_HEIGHT)
    big, small, pen = rng.uniform(120, 300), rng.uniform(20, 90), rng.uniform(20, 80)
    t = np.linspace(0, 2 * np.pi * int(rng.integers(8, 20)), 3000)
    ratio = (big - small) / small
    xs = cx + (big - small) * np.cos(t) + pen * np.cos(ratio * t)
    ys = cy + (big - small) * np.sin(t) - pen * np.sin(ratio * t)
    draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=_tone(rng, spec, (50, 120)), width=1)


def _paint_circles(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    for _ in range(int(rng.integers(3, 9))):
        cx, cy, r = rng.uniform(0, CARD_WIDTH), rng.uniform(0, CARD_HEIGHT), rng.uniform(40, 260)
        draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r), outline=_tone(rng, spec, (40, 120)), width=int(rng.integers(2, 12))
        )


def _paint_stripes(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    slope = rng.uniform(-1.2, 1.2)
    for _ in range(int(rng.integers(3, 10))):
        x = rng.uniform(-400, CARD_WIDTH + 200)
        width = rng.uniform(8, 90)
        polygon = [
            (x, 0),
            (x + width, 0),
            (x + width + slope * CARD_HEIGHT, CARD_HEIGHT),
            (x + slope * CARD_HEIGHT, CARD_HEIGHT),
        ]
        draw.polygon(polygon, fill=_tone(rng, spec, (25, 80)))


def _paint_blobs(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    for _ in range(int(rng.integers(6, 16))):
        cx, cy = rng.uniform(0, CARD_WIDTH), rng.uniform(0, CARD_HEIGHT)
        rx, ry = rng.uniform(20, 160), rng.uniform(20, 120)
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(*colour, int(rng.integers(30, 90))))


def _paint_mountains(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    for layer in range(int(rng.integers(2, 4))):
        base_y = CARD_HEIGHT * rng.uniform(0.45, 0.85) + layer * 25
        xs = np.linspace(-20, CARD_WIDTH + 20, int(rng.integers(6, 14)))
        ys = base_y - rng.uniform(20, 180, size=len(xs))
        points = [
            (float(xs[0]), float(CARD_HEIGHT)),
            *zip(xs.tolist(), ys.tolist(), strict=True),
            (float(xs[-1]), float(CARD_HEIGHT)),
        ]
        draw.polygon(points, fill=_tone(rng, spec, (35, 90)))


def _paint_dots(draw: ImageDraw.ImageDraw, spec: CardSpec, rng: np.random.Generator) -> None:
    step = int(rng.integers(10, 22))
    radius = rng.uniform(1.5, step / 3)
    colour = _tone(rng, spec, (30, 90))
    x0 = rng.uniform(0, CARD_WIDTH * 0.5)
    for gy in range(0, CARD_HEIGHT, step):
        for gx in range(int(x0), CARD_WIDTH, step):
            shrink = 1 - (gx - x0) / CARD_WIDTH
            r = radius * shrink
            if r > 0.6:
                draw.ellipse((gx - r, gy - r, gx + r, gy + r), fill=colour)


ART_PAINTERS = {
    "gradient": _paint_gradient,
    "waves": _paint_waves,
    "guilloche": _paint_guilloche,
    "circles": _paint_circles,
    "stripes": _paint_stripes,
    "blobs": _paint_blobs,
    "mountains": _paint_mountains,
    "dots": _paint_dots,
}
