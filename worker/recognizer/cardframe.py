"""Find the card's outline in a photo and read the number band where ISO 7810/7811 puts it.

The detector's hardest case is a number embossed in the card's own colour under blur or glare: it finds no
text there at all. The card's outline is usually easier to see than its digits, and on an ID-1 card the
number line sits at a standard height (its baseline about 21 mm above the bottom edge, i.e. ~60% of the
height from the top). So this fallback finds the card's quadrilateral, straightens it to 856x540 and reads
horizontal strips across that band directly with the recogniser — no detection needed.

The outline is the best-supported of many candidates (closed contours of the edge map, and quadrilaterals
of its long straight edges), not the first closed contour: a card touching a shape of the background makes
one contour with it, and a blurred card on a background of nearly its own colour makes no closed contour at
all, while its four sides still show as straight edges.

The reader also looks for text only inside the outline when one is found (:mod:`cardregion`), so the
outline is searched once per page, before detection.

>>> quad = find_card_quad(photo_bgr)                       # doctest: +SKIP
>>> [strip.quad for strip in number_band_strips(photo_bgr, quad)]  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from worker.recognizer.geometry import order_quad, order_quads, quad_size

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
#: The outline is searched for in the photo scaled to this long side (edges, not detail, matter here).
OUTLINE_SIDE = 640
#: Canny thresholds: edges for the contours and the support check, and fainter ones for the straight sides
#: (a blurred card on a background of nearly its own colour shows its sides only faintly).
EDGE_THRESHOLDS = (20, 60)
FAINT_EDGE_THRESHOLDS = (10, 30)
#: A side is a straight edge at least this share of the photo's short side long...
MIN_SIDE_SHARE = 0.12
#: ...and of the many found, this many of the longest (after merging near-duplicates) make the candidates.
SIDES_KEPT = 14
#: Opposite sides of a photographed card are parallel within this many degrees (perspective)...
MAX_OPPOSITE_ANGLE = 20.0
#: ...and adjacent sides meet at this many degrees or more.
MIN_CORNER_ANGLE = 60.0
#: Points sampled along each side of a candidate to measure how much of it lies on an edge.
SUPPORT_SAMPLES = 40


@dataclass(frozen=True)
class Strip:
    """A straightened strip of the card and its corners in the photo's pixels."""

    image: np.ndarray
    quad: np.ndarray


@dataclass(frozen=True)
class _Side:
    """A straight edge as a line: its direction (radians, 0..pi), its signed distance from the origin, and the
    total length of the segments found on it."""

    angle: float
    offset: float
    length: float


def find_card_quad(bgr: np.ndarray) -> np.ndarray | None:
    """The card's four corners in ``bgr`` (ordered from top-left), or None when no card-like outline shows.

    Candidates come two ways: closed outlines (contours of the edge map, as a card on a plain background
    shows) and quadrilaterals of straight edges (as a card shows when its outline touches a background shape
    or is broken by glare). Every candidate of a card's proportions is scored by how much of its four sides
    lies on an edge (the weakest side counting double), how close it is to the ID-1 aspect, and its size; a
    rectangle in the background or a card merged with one has sides that cross open ground, and scores low.
    """
    height, width = bgr.shape[:2]
    factor = min(OUTLINE_SIDE / max(height, width), 1.0)
    small = cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else bgr
    channels = cv2.split(cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_BGR2LAB))
    edges = _edges(channels, EDGE_THRESHOLDS)
    near_edge = cv2.dilate(edges, np.ones((5, 5), np.uint8))
    image_area = float(small.shape[0] * small.shape[1])
    candidates = [*_outline_quads(edges, image_area), *_straight_side_quads(_edges(channels, FAINT_EDGE_THRESHOLDS))]
    if not candidates:
        return None
    quads = order_quads(np.stack(candidates).astype(np.float64))
    sides = np.linalg.norm(np.roll(quads, -1, axis=1) - quads, axis=2)  # top, right, bottom, left
    widths, heights = (sides[:, 0] + sides[:, 2]) / 2, (sides[:, 1] + sides[:, 3]) / 2
    aspects = np.maximum(widths, heights) / np.maximum(np.minimum(widths, heights), 1.0)
    x, y = quads[:, :, 0], quads[:, :, 1]
    area_shares = 0.5 * np.abs((x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)) / image_area
    plausible = ((aspects >= ASPECT_TOLERANCE[0]) & (aspects <= ASPECT_TOLERANCE[1])
                 & (area_shares >= MIN_CARD_AREA) & (area_shares <= 0.98))
    if not plausible.any():
        return None
    quads, aspects, area_shares = quads[plausible], aspects[plausible], area_shares[plausible]
    likeness = 1.0 - np.abs(aspects - CARD_ASPECT) / CARD_ASPECT
    scores = _edge_support(near_edge, quads) * likeness * np.sqrt(area_shares)
    best = int(np.argmax(scores))
    if scores[best] <= 0.0:
        return None
    return quads[best].astype(np.float32) / factor  # ordered already


def _edges(channels: list[np.ndarray], thresholds: tuple[int, int]) -> np.ndarray:
    edges = np.zeros(channels[0].shape, np.uint8)
    for channel in channels:
        edges |= cv2.Canny(channel, *thresholds)
    return edges


def _outline_quads(edges: np.ndarray, image_area: float) -> list[np.ndarray]:
    """Four-cornered outlines of the edge map's contours, and the rotated rectangle around each.

    Outer contours of the edges as found and thickened once and twice (joining a broken outline), and every
    contour of the edges as found and thickened once (an outline inside a larger shape it touches)."""
    quads = []
    for dilations, retrieval in ((0, cv2.RETR_EXTERNAL), (1, cv2.RETR_EXTERNAL), (2, cv2.RETR_EXTERNAL),
                                 (0, cv2.RETR_LIST), (1, cv2.RETR_LIST)):
        thick = cv2.dilate(edges, np.ones((3, 3), np.uint8), iterations=dilations) if dilations else edges
        contours, _ = cv2.findContours(thick, retrieval, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            hull = cv2.convexHull(contour)
            area = cv2.contourArea(hull)
            if area < MIN_CARD_AREA * image_area:
                continue
            quad = _four_corners(hull)
            if quad is not None and area / max(cv2.contourArea(quad), 1.0) >= 0.85:
                quads.append(quad)
            quads.append(cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32))
    return quads


def _four_corners(hull: np.ndarray) -> np.ndarray | None:
    """Four corners of a convex outline (rounded corners and small dents tolerated)."""
    perimeter = cv2.arcLength(hull, True)
    for tolerance in (0.02, 0.03, 0.045, 0.06):
        approx = cv2.approxPolyDP(hull, tolerance * perimeter, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
    return None


def _straight_sides(edges: np.ndarray) -> list[_Side]:
    """The longest straight edges (probabilistic Hough), segments on one line merged."""
    short_side = min(edges.shape)
    segments = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=40, minLineLength=int(MIN_SIDE_SHARE * short_side),
                               maxLineGap=8)
    if segments is None:
        return []
    found: list[tuple[float, float, float]] = []
    for x1, y1, x2, y2 in segments.reshape(-1, 4).astype(np.float64):
        angle = float(np.arctan2(y2 - y1, x2 - x1) % np.pi)
        offset = float(-np.sin(angle) * x1 + np.cos(angle) * y1)
        found.append((angle, offset, float(np.hypot(x2 - x1, y2 - y1))))
    found.sort(key=lambda side: -side[2])
    merged: list[list[float]] = []
    for angle, offset, length in found:
        for side in merged:
            # a line at angle a and offset o is the line at a - pi and offset -o: compare in the same form
            same_form = abs(angle - side[0]) < np.pi / 2
            if _angle_between(angle, side[0]) < np.radians(4) and \
                    abs((offset if same_form else -offset) - side[1]) < 6:
                side[2] += length
                break
        else:
            merged.append([angle, offset, length])
    merged.sort(key=lambda side: -side[2])
    return [_Side(*side) for side in merged[:SIDES_KEPT]]


def _angle_between(a: float, b: float) -> float:
    """The angle between two undirected lines (0..pi/2)."""
    difference = abs(a - b) % np.pi
    return min(difference, np.pi - difference)


def _crossings(sides: list[_Side]) -> tuple[np.ndarray, np.ndarray]:
    """Where every two sides' lines cross (K x K x 2), and whether they cross at all (not parallel)."""
    angles = np.array([side.angle for side in sides])
    offsets = np.array([side.offset for side in sides])
    nx, ny = -np.sin(angles), np.cos(angles)
    det = nx[:, None] * ny[None, :] - ny[:, None] * nx[None, :]
    crossing = np.abs(det) >= 1e-6
    safe = np.where(crossing, det, 1.0)
    x = (offsets[:, None] * ny[None, :] - ny[:, None] * offsets[None, :]) / safe
    y = (nx[:, None] * offsets[None, :] - offsets[:, None] * nx[None, :]) / safe
    return np.stack([x, y], axis=-1), crossing


def _straight_side_quads(edges: np.ndarray) -> list[np.ndarray]:
    """Quadrilaterals of two near-parallel pairs of straight edges meeting at near-right angles, corners
    inside the photo (give or take 5 %)."""
    height, width = edges.shape
    sides = _straight_sides(edges)
    if len(sides) < 4:
        return []
    points, crossing = _crossings(sides)
    pairs = [(i, j) for i, j in itertools.combinations(range(len(sides)), 2)
             if _angle_between(sides[i].angle, sides[j].angle) <= np.radians(MAX_OPPOSITE_ANGLE)]
    low, high = np.array([-0.05 * width, -0.05 * height]), np.array([1.05 * width, 1.05 * height])
    quads = []
    for (a, b), (c, d) in itertools.combinations(pairs, 2):
        if len({a, b, c, d}) < 4 or _angle_between(sides[a].angle, sides[c].angle) < np.radians(MIN_CORNER_ANGLE):
            continue
        if not (crossing[a, c] and crossing[c, b] and crossing[b, d] and crossing[d, a]):
            continue
        quad = np.stack([points[a, c], points[c, b], points[b, d], points[d, a]]).astype(np.float32)
        if (quad < low).any() or (quad > high).any():
            continue
        quads.append(quad)
    return quads


def _edge_support(near_edge: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """How much of each quad's outline lies on an edge: the mean of its four sides' shares of sampled points
    on an edge, with the weakest side counted twice (a side across open ground gives a false outline away)."""
    height, width = near_edge.shape
    steps = np.linspace(0.05, 0.95, SUPPORT_SAMPLES)[None, None, :, None]
    starts, ends = quads[:, :, None, :], np.roll(quads, -1, axis=1)[:, :, None, :]
    points = np.rint(starts + steps * (ends - starts)).astype(np.int64)
    inside = (points[..., 0] >= 0) & (points[..., 0] < width) & (points[..., 1] >= 0) & (points[..., 1] < height)
    on_edge = near_edge[np.clip(points[..., 1], 0, height - 1), np.clip(points[..., 0], 0, width - 1)] > 0
    shares = (on_edge & inside).sum(axis=2) / SUPPORT_SAMPLES
    return (shares.sum(axis=1) + shares.min(axis=1)) / 5.0


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
