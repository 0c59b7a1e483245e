"""Generate card photos for API 3.0's quality detectors: each base photo plus one copy per defect.

The base photos come from the project's card generator (scripts/cards) at the given level; each defect is
then applied to a copy, so a detector's precision and recall are measured on the same cards with and without
the defect it looks for:

* ``glare``: a blown-out specular highlight over part of the card (-9112);
* ``border``: the photo cropped so that one or two of the card's edges leave the frame (-9111);
* ``copy``: a grayscale photocopy: colour removed, contrast pushed, paper grain (-9113);
* ``screen``: the photo shown on a screen (an RGB sub-pixel grid) and photographed again, slightly turned and
  scaled, which beats into moiré (-9114);
* ``blur``: a defocus blur (QualityValue).

Same arguments, byte-identical files. Example::

    python scripts/make_quality_cards.py --out /tmp/quality --count 40 --seed 5

writes ``q0000_base.jpg``, ``q0000_glare.jpg``, ... and ``labels.jsonl`` with, per file, ``file``, ``base``,
``effect`` (``none`` for the base) and ``degradations`` (what the generator itself applied to the base, e.g. its
own ``glare``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.cards.numbers import build_pools
from scripts.cards.photo import Photo, photograph
from scripts.cards.render import render_card_with_layout
from scripts.cards.spec import sample_spec
from worker.recognizer.bins import default_table

EFFECTS = ("glare", "border", "copy", "screen", "blur")
JPEG_QUALITY = 92


def base_photo(index: int, level: str, seed: int) -> Photo:
    """Card ``index`` of a run, drawn and photographed by the project's generator."""
    table = default_table()
    rng = np.random.default_rng([seed, index, 1])
    spec = sample_spec(table, build_pools(table), level, rng)
    face, layout = render_card_with_layout(spec, rng)
    return photograph(face, layout, spec.profile, rng)


def _card_mask(shape: tuple[int, int], quad: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 1)
    return mask


def add_glare(rgb: np.ndarray, quad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A white elliptical highlight, blown out at its core, somewhere on the card."""
    height, width = rgb.shape[:2]
    card_w = float(np.linalg.norm(quad[1] - quad[0]))
    card_h = float(np.linalg.norm(quad[3] - quad[0]))
    weights = rng.dirichlet(np.ones(4))
    centre = (weights[:, None] * quad).sum(axis=0)
    axes = (card_w * rng.uniform(0.12, 0.22), card_h * rng.uniform(0.1, 0.2))
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    dx, dy = xx - centre[0], yy - centre[1]
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / axes[0]
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / axes[1]
    light = np.clip(1.6 * np.exp(-(u * u + v * v) * 1.2), 0, 1) * _card_mask((height, width), quad)
    out = rgb.astype(np.float32) + light[:, :, None] * 400.0
    return np.clip(out, 0, 255).astype(np.uint8)


def crop_border(rgb: np.ndarray, quad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cut the photo so that the card loses 8-25% of its width or height on one or two sides."""
    height, width = rgb.shape[:2]
    left, top = quad[:, 0].min(), quad[:, 1].min()
    right, bottom = quad[:, 0].max(), quad[:, 1].max()
    box = [0, 0, width, height]
    sides = rng.choice(4, size=int(rng.integers(1, 3)), replace=False)
    for side in sides:
        share = rng.uniform(0.08, 0.25)
        if side == 0:
            box[0] = int(left + share * (right - left))
        elif side == 1:
            box[1] = int(top + share * (bottom - top))
        elif side == 2:
            box[2] = int(right - share * (right - left))
        else:
            box[3] = int(bottom - share * (bottom - top))
    return np.ascontiguousarray(rgb[box[1]:box[3], box[0]:box[2]])


def photocopy(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gray, contrast pushed like a copier's, with paper grain."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gain = rng.uniform(1.2, 1.6)
    gray = (gray - 128.0) * gain + 128.0 + rng.uniform(10, 30)
    gray += rng.normal(0, rng.uniform(2, 6), gray.shape)
    gray = np.clip(gray, 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def screen_reshoot(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Show the photo on a screen (R, G and B stripes per pixel, dark rows between) and photograph it again."""
    height, width = rgb.shape[:2]
    pitch = int(rng.integers(3, 5))
    shown = cv2.resize(rgb, (width * pitch // 2, height * pitch // 2), interpolation=cv2.INTER_LINEAR)
    sh, sw = shown.shape[:2]
    grid = np.full((sh, sw, 3), 0.35, np.float32)
    columns = np.arange(sw) % pitch
    for channel in range(3):
        grid[:, columns == channel % pitch, channel] = 1.0
    grid[np.arange(sh) % pitch == pitch - 1] *= 0.5
    lit = shown.astype(np.float32) * grid * rng.uniform(1.3, 1.6)
    angle = rng.uniform(-4, 4)
    matrix = cv2.getRotationMatrix2D((sw / 2, sh / 2), angle, 1.0)
    turned = cv2.warpAffine(lit, matrix, (sw, sh), borderMode=cv2.BORDER_REFLECT)
    factor = rng.uniform(0.55, 0.8) * 2 / pitch
    out = cv2.resize(turned, (int(sw * factor), int(sh * factor)), interpolation=cv2.INTER_NEAREST)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 0.7))
    return np.clip(out, 0, 255).astype(np.uint8)


def defocus(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), rng.uniform(2.5, 4.5))


def apply(effect: str, photo: Photo, rng: np.random.Generator) -> np.ndarray:
    rgb = np.asarray(photo.image.convert("RGB"))
    quad = np.asarray(photo.card_quad, np.float32)
    actions: dict[str, Callable[[], np.ndarray]] = {
        "glare": lambda: add_glare(rgb, quad, rng),
        "border": lambda: crop_border(rgb, quad, rng),
        "copy": lambda: photocopy(rgb, rng),
        "screen": lambda: screen_reshoot(rgb, rng),
        "blur": lambda: defocus(rgb, rng),
    }
    return actions[effect]()


def _jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def generate(out_dir: str | Path, count: int, seed: int, *, level: str = "moderate") -> list[dict[str, Any]]:
    """Write ``count`` base photos and one copy per effect into ``out_dir``; return the labels."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels: list[dict[str, Any]] = []
    for index in range(count):
        photo = base_photo(index, level, seed)
        base = f"q{index:04d}"
        variants = [("none", np.asarray(photo.image.convert("RGB")))]
        for number, effect in enumerate(EFFECTS):
            variants.append((effect, apply(effect, photo, np.random.default_rng([seed, index, 2, number]))))
        for effect, rgb in variants:
            name = f"{base}_{'base' if effect == 'none' else effect}.jpg"
            (out / name).write_bytes(_jpeg(rgb))
            labels.append({"file": name, "base": base, "effect": effect, "degradations": list(photo.degradations)})
    with (out / "labels.jsonl").open("w", encoding="utf-8") as handle:
        for label in labels:
            handle.write(json.dumps(label) + "\n")
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--level", default="moderate", choices=("clean", "moderate", "hard"))
    args = parser.parse_args(argv)
    labels = generate(args.out, args.count, args.seed, level=args.level)
    print(f"wrote {len(labels)} images to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
