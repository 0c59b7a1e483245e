"""Generate synthetic bank-card photos with labels, for the recognizer's tests and accuracy benchmark.

Why synthetic: real card photos cannot be shipped, yet the recognizer needs fixed, labelled, reproducible
inputs that are hard in the ways real photos are (embossed same-colour digits, foil, artwork behind the
digits, glare, 19 digits without spaces, MEMBER SINCE dates). Same arguments (and the same BIN table,
fonts and image libraries), byte-identical files.

Example::

    python scripts/make_cards.py --out /tmp/cards --count 300 --level mixed --seed 7

writes ``card_0000.jpg`` ... (some ``.png``) and ``labels.jsonl``, one JSON object per image::

    {"file": "card_0000.jpg", "number": "6225760123456789", "expiry": "08/28", "valid_date": "08/2028",
     "bin": "622576", "bank": "招商银行(03080000)", "level": "moderate", "seed": 7, "font": "OCR-B",
     "style": "foil", "rotation": 90, "number_quad": [[x, y], ...], ...}

``expiry`` is as printed (MM/YY on the clean, moderate and hard levels; the severe, varied and heldout levels also
print MM/YYYY, YYYY/MM, YY/MM and valid-from-thru ranges, see ``expiry_form`` and ``valid_from``; null when the
card shows none); ``valid_date`` is the API's 有效期 (MM/YYYY) of the thru date.
``card_quad``, ``number_quad`` and ``expiry_quad`` are the card's, the number line's and the expiry's printed date
(the whole range when one is printed; null when the card shows no expiry) corners in the image's pixels,
clockwise from the top left of the card as read (so they follow a 90/180/270 ``rotation``).

Parameters: ``--out DIR``, ``--count N``, ``--level {clean,moderate,hard,severe,varied,relit,heldout,mixed}`` (mixed
draws each card's level uniformly among clean, moderate and hard; ``heldout`` is for evaluation only, never
for training or tuning, see :mod:`scripts.cards.spec`), ``--seed S``, ``--width W`` (scale every photo to
this width, keeping its aspect ratio), ``--grouping 6-13`` (every number 19 digits printed that way: 6-13,
4-4-4-4-3 or 19; a tuning-side option, refused for ``heldout``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.cards.numbers import BinPools, build_pools
from scripts.cards.photo import photograph
from scripts.cards.render import render_card, render_card_with_layout
from scripts.cards.spec import ALL_LEVELS, LEVELS, CardSpec, sample_spec
from worker.recognizer.bins import BinTable, default_table

__all__ = ["CardSpec", "generate", "render_card", "sample_spec"]

LEVEL_CHOICES = (*ALL_LEVELS, "mixed")
PNG_SHARE = 0.1


def card_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of card ``index`` in a run seeded ``seed``: independent of the run's count."""
    return np.random.default_rng([seed, index])


def generate(
    out_dir: str | Path,
    count: int,
    level: str,
    seed: int,
    *,
    width: int | None = None,
    table: BinTable | None = None,
    grouping: tuple[int, ...] | None = None,
) -> list[dict[str, Any]]:
    """Write ``count`` card photos and ``labels.jsonl`` into ``out_dir``; return the labels.

    Parameters:
        out_dir: the folder (created if needed).
        count: how many images.
        level: "clean", "moderate", "hard", "severe", "varied", "relit", "heldout" or "mixed" (each card's level drawn
            uniformly among the first three).
        seed: the run's seed; card ``i`` depends only on (seed, i), so a larger run extends a smaller one.
        width: if given, every photo is scaled to this width.
        table: the BIN table to draw numbers from (default: the shipped table).
        grouping: force 19-digit numbers printed this way, e.g. ``(6, 13)`` or ``(19,)`` (tuning levels only).
    """
    if level not in LEVEL_CHOICES:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVEL_CHOICES)}")
    if count < 0:
        raise ValueError("count must be zero or more")
    if width is not None and width < 64:
        raise ValueError("width must be at least 64 pixels")
    table = table or default_table()
    pools = build_pools(table)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = [make_card(out, index, level, seed, pools, table, width, grouping) for index in range(count)]
    with (out / "labels.jsonl").open("w", encoding="utf-8") as handle:
        for label in labels:
            handle.write(json.dumps(label, ensure_ascii=False) + "\n")
    return labels


def make_card(
    out: Path, index: int, level: str, seed: int, pools: BinPools, table: BinTable, width: int | None,
    grouping: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """Sample, draw, photograph and save card ``index``; return its label."""
    rng = card_rng(seed, index)
    card_level = LEVELS[int(rng.integers(len(LEVELS)))] if level == "mixed" else level
    spec = sample_spec(table, pools, card_level, rng, grouping=grouping)
    face, layout = render_card_with_layout(spec, rng)
    photo = photograph(face, layout, spec.profile, rng)
    image, scale = photo.image, 1.0
    if width is not None and image.width != width:
        scale = width / image.width
        image = image.resize((width, max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    as_png = rng.random() < PNG_SHARE
    quality = int(rng.integers(spec.profile.jpeg_quality[0], spec.profile.jpeg_quality[1] + 1))
    name = f"card_{index:04d}.{'png' if as_png else 'jpg'}"
    (out / name).write_bytes(_encode(image, as_png, quality))
    number = spec.number
    record = number.record
    return {
        "file": name,
        "number": number.digits,
        "expiry": spec.expiry.text if spec.expiry else None,
        "valid_date": spec.expiry.api_text if spec.expiry else None,
        "bin": record.prefix,
        "bank": record.bank_info,
        "card_name": record.card_name,
        "card_kind": record.card_kind,
        "network": number.network,
        "length": len(number.digits),
        "grouping": "-".join(str(size) for size in number.grouping),
        "printed": number.printed,
        "level": card_level,
        "seed": seed,
        "index": index,
        "font": layout.digit_font,
        "text_font": layout.text_font,
        "style": spec.style,
        "foil": spec.foil,
        "emboss_relief": round(spec.emboss_relief, 3) if spec.style != "flat" else None,
        "light_azimuth_deg": round(spec.light_azimuth_deg, 1) if spec.light_azimuth_deg is not None else None,
        "wear": round(spec.wear, 3),
        "art": list(spec.art),
        "art_behind_digits": spec.art_behind_digits,
        "expiry_label": " ".join(spec.expiry.label) if spec.expiry else None,
        "expiry_form": spec.expiry.form if spec.expiry else None,
        "valid_from": f"{spec.expiry.since[0]:02d}/{spec.expiry.since[1]:04d}" if spec.expiry and spec.expiry.since
        else None,
        "distractor": spec.distractor.text if spec.distractor else None,
        "distractor_label": " ".join(spec.distractor.label) if spec.distractor else None,
        "holder": spec.holder,
        "rotation": photo.rotation,
        "degradations": photo.degradations,
        "format": "png" if as_png else "jpeg",
        "jpeg_quality": None if as_png else quality,
        "width": image.width,
        "height": image.height,
        "card_quad": _scaled(photo.card_quad, scale),
        "number_quad": _scaled(photo.number_quad, scale),
        "expiry_quad": _scaled(photo.expiry_quad, scale) if photo.expiry_quad is not None else None,
    }


def _encode(image: Image.Image, as_png: bool, quality: int) -> bytes:
    buffer = io.BytesIO()
    if as_png:
        image.save(buffer, format="PNG", optimize=False, compress_level=6)
    else:
        image.save(buffer, format="JPEG", quality=quality, optimize=False, subsampling="4:2:0")
    return buffer.getvalue()


def _scaled(quad: list[list[float]], scale: float) -> list[list[float]]:
    return [[round(x * scale, 1), round(y * scale, 1)] for x, y in quad]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate labelled synthetic bank-card photos.")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--count", type=int, default=30, help="how many images (default 30)")
    parser.add_argument("--level", choices=LEVEL_CHOICES, default="mixed", help="difficulty (default mixed)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--width", type=int, default=None, help="scale every photo to this width")
    parser.add_argument("--grouping", default=None,
                        help="force 19-digit numbers printed this way: 6-13, 4-4-4-4-3 or 19 (not for heldout)")
    args = parser.parse_args(argv)
    try:
        grouping = tuple(int(size) for size in args.grouping.split("-")) if args.grouping else None
        labels = generate(args.out, args.count, args.level, args.seed, width=args.width, grouping=grouping)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"wrote {len(labels)} images and labels.jsonl to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
