"""Find the card's outline in a photo and read the number band where ISO 7810/7811 puts it.

The detector's hardest case is a number embossed in the card's own colour under blur or glare: it finds no
text there at all. The card's outline is usually easier to see than its digits, and on an ID-1 card the
number line sits at a standard height (its baseline about 21 mm above the bottom edge, i.e. ~60% of the
height from the top). So this fallback finds the card's quadrilateral, straightens it to 856x540 and reads
horizontal strips across that band directly with the recogniser — no detection needed.

>>> quad = find_card_quad(photo_bgr)                       # doctest: +SKIP
>>> [strip.quad for strip in number_band_strips(photo_bgr, quad)]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from worker.recognizer.geometry import order_quad, quad_size

CARD_WIDTH, CARD_HEIGHT = 856, 540
#: ID-1 cards are 85.60 x 53.98 mm; a photographed outline may be foreshortened by perspective.
CARD_ASPECT = CARD_WIDTH / CARD_HEIGHT
ASPECT_TOLERANCE = (1.2, 2.1)
#: The outline must cover at least this share of the photo to be believed.
MIN_CARD_AREA = 0.08
#: Strips (top, bottom) as fractions of the card height covering where the number line can be.
NUMBER_STRIPS: tuple[tuple[float, float], ...] = (
    (0.46, 0.60), (0.49, 0.63), (0.52, 0.66), (0.55, 0.69), (0.58, 0.72),
)
STRIP_MARGIN_X = 0.03


@dataclass(frozen=True)
class Strip:
    """A straightened strip of the card and its corners in the photo's pixels."""

    image: np.ndarray
    quad: np.ndarray


def find_card_quad(bgr: np.ndarray) -> np.ndarray | None:
    """The card's four corners in ``bgr`` (ordered from top-left), or None when no card-like outline shows."""
    height, width = bgr.shape[:2]
    factor = 640.0 / max(height, width)
    small = cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else bgr
    factor = min(factor, 1.0)
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_BGR2LAB)
    edges = np.zeros(small.shape[:2], np.uint8)
    for channel in cv2.split(lab):
        edges |= cv2.Canny(channel, 20, 60)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8), iterations=2)
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    image_area = float(small.shape[0] * small.shape[1])
    best: tuple[float, np.ndarray] | None = None
    for contour in contours:
        hull = cv2.convexHull(contour)
        area = cv2.contourArea(hull)
        if area < MIN_CARD_AREA * image_area or area > 0.98 * image_area:
            continue
        quad = _four_corners(hull)
        if quad is None:
            continue
        quad_w, quad_h = quad_size(quad)
        aspect = max(quad_w, quad_h) / max(min(quad_w, quad_h), 1.0)
        if not ASPECT_TOLERANCE[0] <= aspect <= ASPECT_TOLERANCE[1]:
            continue
        fill = area / max(cv2.contourArea(quad), 1.0)
        if fill < 0.85:
            continue
        score = area * (1.0 - abs(aspect - CARD_ASPECT) / CARD_ASPECT)
        if best is None or score > best[0]:
            best = (score, quad)
    if best is None:
        return None
    return order_quad(best[1] / factor)


def _four_corners(hull: np.ndarray) -> np.ndarray | None:
    """Four corners of a convex outline (rounded corners and small dents tolerated)."""
    perimeter = cv2.arcLength(hull, True)
    for tolerance in (0.02, 0.03, 0.045, 0.06):
        approx = cv2.approxPolyDP(hull, tolerance * perimeter, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
    return None


def number_band_strips(bgr: np.ndarray, card: np.ndarray, *, upside_down: bool = False) -> list[Strip]:
    """Straightened strips across the card's number band; ``upside_down`` reads the card turned 180 degrees.

    A card found in portrait is taken as photographed sideways (its long side is the reading direction).
    """
    quad = order_quad(card)
    width, height = quad_size(quad)
    if height > width:  # portrait outline: start from the corner that makes the long side horizontal
        quad = np.roll(quad, 1, axis=0)
    if upside_down:
        quad = np.roll(quad, 2, axis=0)
    target = np.array([[0, 0], [CARD_WIDTH, 0], [CARD_WIDTH, CARD_HEIGHT], [0, CARD_HEIGHT]], np.float32)
    to_card = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    to_photo = np.linalg.inv(to_card)
    face = cv2.warpPerspective(bgr, to_card, (CARD_WIDTH, CARD_HEIGHT), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)
    left, right = STRIP_MARGIN_X * CARD_WIDTH, (1 - STRIP_MARGIN_X) * CARD_WIDTH
    strips = []
    for top_share, bottom_share in NUMBER_STRIPS:
        top, bottom = int(top_share * CARD_HEIGHT), int(bottom_share * CARD_HEIGHT)
        corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]], np.float32)
        in_photo = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), to_photo).reshape(4, 2)
        strips.append(Strip(image=np.ascontiguousarray(face[top:bottom, int(left):int(right)]), quad=in_photo))
    return strips
