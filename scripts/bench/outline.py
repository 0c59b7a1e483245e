"""Benchmark the card-outline finder against the textbook document-scanner recipe, per level.

The outline (:func:`worker.recognizer.cardframe.find_card_quad`) straightens the card for API 3.0's
``BorderCutImage``, for the quality signals (QualityValue, glare, the border candidate) and for the
recognizer's last-resort read of the number band, and bounds the region the text detector reads
(:mod:`worker.recognizer.cardregion`). Each generated card's label carries the quadrilateral the
generator drew it in, so an outline is scored by its overlap with that (intersection over union): found when
it is 0.9 or more.

The BASELINE in the same run, on the same photos: the recipe every document-scanner tutorial gives (gray,
blur, Canny 75/200, the largest outer contour with four corners after ``approxPolyDP`` at 2 % of its
perimeter). ``heldout`` is the held-apart level: nothing in the finder was chosen on it.

Usage::

    .venv/bin/python scripts/bench/outline.py --count-per-level 100 --seed 2024
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench.report import markdown_table, write_section  # noqa: E402
from scripts.make_cards import generate  # noqa: E402
from worker.recognizer.cardframe import find_card_quad  # noqa: E402
from worker.recognizer.imageio import decode_image  # noqa: E402

LEVELS = ("clean", "moderate", "hard", "severe", "heldout")
FOUND_OVERLAP = 0.9
#: The photo's long side for both finders, as the recognizer works (its default ``max_side``).
WORKING_SIDE = 1600


def scanner_recipe_quad(bgr: np.ndarray) -> np.ndarray | None:
    """The textbook document-scanner outline: the largest outer contour that approximates to four corners."""
    gray = cv2.GaussianBlur(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    contours, _ = cv2.findContours(cv2.Canny(gray, 75, 200), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
        approx = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
    return None


def overlap(found: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two quadrilaterals (their convex hulls)."""
    a, b = cv2.convexHull(found.astype(np.float32)), cv2.convexHull(truth.astype(np.float32))
    inter, _ = cv2.intersectConvexConvex(a, b)
    union = cv2.contourArea(a) + cv2.contourArea(b) - inter
    return float(inter / union) if union > 0 else 0.0


def measure(folder: Path, labels: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per finder: share found (overlap >= 0.9), share with no outline at all, median overlap, ms per photo."""
    finders = {"cardpipe": find_card_quad, "scanner recipe": scanner_recipe_quad}
    overlaps: dict[str, list[float]] = {name: [] for name in finders}
    missing = dict.fromkeys(finders, 0)
    seconds = dict.fromkeys(finders, 0.0)
    for label in labels:
        image = decode_image((folder / label["file"]).read_bytes(), max_side=WORKING_SIDE, max_pixels=40_000_000)
        bgr = np.ascontiguousarray(image.pixels[:, :, ::-1])
        truth = np.array(label["card_quad"], np.float32) / image.scale
        for name, finder in finders.items():
            started = time.perf_counter()
            quad = finder(bgr)
            seconds[name] += time.perf_counter() - started
            missing[name] += quad is None
            overlaps[name].append(0.0 if quad is None else overlap(quad, truth))
    count = len(labels)
    return {name: {"found": sum(v >= FOUND_OVERLAP for v in values) / count, "none": missing[name] / count,
                   "median": statistics.median(values), "ms": 1000.0 * seconds[name] / count}
            for name, values in overlaps.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count-per-level", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--levels", nargs="+", choices=LEVELS, default=list(LEVELS))
    parser.add_argument("--no-write", action="store_true", help="print the report instead of writing it")
    args = parser.parse_args(argv)

    rows = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for level in args.levels:
            folder = Path(scratch) / level
            labels = generate(folder, args.count_per_level, level, args.seed)
            results[level] = measure(folder, labels)
            for name, figures in results[level].items():
                rows.append([level, name, len(labels), f"{100 * figures['found']:.0f}%",
                             f"{100 * figures['none']:.0f}%", f"{figures['median']:.3f}", f"{figures['ms']:.1f}"])
    table = markdown_table(["level", "finder", "photos", f"outline found (IoU >= {FOUND_OVERLAP})", "no outline",
                            "median IoU", "ms per photo"], rows)
    body = (f"{table}\n\n{args.count_per_level} generated cards per level (`scripts/make_cards.py`, seed {args.seed}),"
            f" each scored against the quadrilateral the generator drew the card in. The baseline is the textbook"
            f" document-scanner recipe (gray, blur, Canny 75/200, the largest outer contour with four corners)."
            f" `heldout` is the held-apart level: nothing in the finder was chosen on it.")
    if args.no_write:
        print(body)
        print(json.dumps(results))
    else:
        write_section("outline", "Card outline: found against the generator's quadrilateral", body)
        print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
