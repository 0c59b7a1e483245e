"""Quadrilaterals, rotated views of the page and straightened crops, with the way back to original pixels.

The card logic works on a *view*: the working image turned by 0, 90, 180 or 270 degrees so the card reads
left to right. Detected boxes are carried into a view by the same rotation (the detector need not run again)
and every box the recognizer reports is carried back through the view's affine map and the downscale factor,
so ``itemcoord`` is always in the pixels of the image the client sent.

>>> view = View.of(np.zeros((100, 200, 3), np.uint8), quarter_turns=2, scale=2.0)
>>> view.to_original(np.array([[0, 0], [10, 0], [10, 5], [0, 5]], np.float32))
(378, 188, 20, 10)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def order_quad(points: np.ndarray) -> np.ndarray:
    """The four corners ordered top-left, top-right, bottom-right, bottom-left (image coordinates)."""
    return order_quads(np.asarray(points, dtype=np.float32).reshape(1, 4, 2))[0]


def order_quads(quads: np.ndarray) -> np.ndarray:
    """:func:`order_quad` for a stack of quads (N x 4 x 2) at once, in their own dtype."""
    centres = quads.mean(axis=1, keepdims=True)
    angles = np.arctan2(quads[:, :, 1] - centres[:, :, 1], quads[:, :, 0] - centres[:, :, 0])
    # clockwise on screen (y grows downwards), starting at the left-most angle...
    clockwise = np.take_along_axis(quads, np.argsort(angles, axis=1)[:, :, None], axis=1)
    # ...then rolled to start at the top-left corner (the smallest x + y)
    start = np.argmin(clockwise.sum(axis=2), axis=1)
    order = (start[:, None] + np.arange(4)[None, :]) % 4
    return np.take_along_axis(clockwise, order[:, :, None], axis=1)


def quad_size(quad: np.ndarray) -> tuple[float, float]:
    """(width, height) of a quad ordered by :func:`order_quad`: mean lengths of its opposite sides."""
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2.0
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2.0
    return float(width), float(height)


def union_quad(quads: list[np.ndarray]) -> np.ndarray:
    """The tightest rotated rectangle around several quads (e.g. the groups of one number line)."""
    points = np.concatenate([q.reshape(-1, 2) for q in quads]).astype(np.float32)
    return order_quad(cv2.boxPoints(cv2.minAreaRect(points)))


def _axes(quad: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A quad's own axes (unit vectors along and across its line, averaged over its two sides) and its height
    along the second."""
    top_left, top_right, bottom_right, bottom_left = quad.astype(np.float32)
    along = ((top_right - top_left) + (bottom_right - bottom_left)) / 2.0
    across = ((bottom_left - top_left) + (bottom_right - top_right)) / 2.0
    height = float(np.linalg.norm(across))
    return along / max(float(np.linalg.norm(along)), 1e-6), across / max(height, 1e-6), height


def pad_quad(quad: np.ndarray, pad_x: float, pad_y: float) -> np.ndarray:
    """Grow a quad along its own axes by ``pad_x`` pixels left and right and ``pad_y`` top and bottom."""
    top_left, top_right, bottom_right, bottom_left = quad.astype(np.float32)
    ux, uy, _ = _axes(quad)
    dx, dy = ux * pad_x, uy * pad_y
    return np.array([top_left - dx - dy, top_right + dx - dy, bottom_right + dx + dy, bottom_left - dx + dy],
                    dtype=np.float32)


def sub_quad(quad: np.ndarray, start: float, end: float) -> np.ndarray:
    """The part of a line's quad between two fractions (0..1) of its width, e.g. a date inside its line."""
    top_left, top_right, bottom_right, bottom_left = quad.astype(np.float32)
    start, end = max(0.0, start), min(1.0, end)
    top, bottom = top_right - top_left, bottom_right - bottom_left
    return np.array([top_left + top * start, top_left + top * end, bottom_left + bottom * end,
                     bottom_left + bottom * start], dtype=np.float32)


def left_of(quad: np.ndarray, reach: float, gap: float, top: float, bottom: float) -> np.ndarray:
    """The area left of a line's quad, in units of its height: from ``reach`` to ``gap`` before its left edge,
    and from ``top`` to ``bottom`` across (from its centre line, negative is up), along the line's own axes.

    Where a date's label is printed: beside it, small, often on two lines.
    """
    return _beside(quad, -1.0, gap, reach, top, bottom)


def right_of(quad: np.ndarray, gap: float, reach: float, top: float, bottom: float) -> np.ndarray:
    """The area right of a line's quad, in units of its height: from ``gap`` to ``reach`` past its right edge,
    and from ``top`` to ``bottom`` across (from its centre line, negative is up), along the line's own axes.

    Where the rest of a date's line is printed: a range's thru half after its valid-from half.
    """
    return _beside(quad, 1.0, gap, reach, top, bottom)


def _beside(quad: np.ndarray, side: float, gap: float, reach: float, top: float, bottom: float) -> np.ndarray:
    """The area from ``gap`` to ``reach`` heights beyond a quad's left (``side`` -1) or right (+1) edge, from
    ``top`` to ``bottom`` across; its corners in the quad's own order (top left first)."""
    top_left, top_right, bottom_right, bottom_left = quad.astype(np.float32)
    along, across, height = _axes(quad)
    edge = (top_left + bottom_left) / 2.0 if side < 0 else (top_right + bottom_right) / 2.0
    near, far = edge + side * along * gap * height, edge + side * along * reach * height
    start, end = (far, near) if side < 0 else (near, far)
    up, down = across * top * height, across * bottom * height
    return np.array([start + up, end + up, end + down, start + down], dtype=np.float32)


def below(quad: np.ndarray, start: float, end: float, top: float, bottom: float) -> np.ndarray:
    """The area below a line's quad: from ``start`` to ``end`` along it, in fractions of its width from its
    left edge, and from ``top`` to ``bottom`` across, in units of its height from its lower edge (negative is
    up), along the line's own axes.

    Where a card prints its dates: under the number line, from about its middle towards its end.
    """
    top_left, top_right, bottom_right, bottom_left = quad.astype(np.float32)
    along, across, height = _axes(quad)
    width = float(np.linalg.norm(((top_right - top_left) + (bottom_right - bottom_left)) / 2.0))
    origin = top_left + across * height
    left, right = origin + along * start * width, origin + along * end * width
    up, down = across * top * height, across * bottom * height
    return np.array([left + up, right + up, right + down, left + down], dtype=np.float32)


def crop_quad(image: np.ndarray, quad: np.ndarray, *, min_height: int = 0) -> np.ndarray:
    """Warp the quad's content to an upright rectangle (deskews a tilted or perspective line).

    ``min_height`` upscales small lines, which helps the recogniser with thin embossed strokes.
    """
    return straighten(image, quad, min_height=min_height)[0]


def straighten(image: np.ndarray, quad: np.ndarray, *, min_height: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`crop_quad`'s crop and the 3x3 perspective map from the crop's pixels back to ``image``'s, for
    quads found in the crop (:func:`map_quad`)."""
    width, height = quad_size(quad)
    factor = max(1.0, min_height / max(height, 1.0))
    out_w = max(round(width * factor), 4)
    out_h = max(round(height * factor), 4)
    target = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    crop = cv2.warpPerspective(image, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return crop, np.linalg.inv(matrix)


def map_quad(quad: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """A quad carried through a 3x3 perspective map (e.g. :func:`straighten`'s, from a crop to its image)."""
    return cv2.perspectiveTransform(quad.reshape(1, 4, 2).astype(np.float64), matrix)[0].astype(np.float32)


@dataclass(frozen=True)
class View:
    """The working image turned by a multiple of 90 degrees, and how to map its pixels back.

    Attributes:
        image: the rotated working image (BGR).
        quarter_turns: counter-clockwise quarter turns applied to the working image.
        forward: 2x3 affine map working image -> this view.
        backward: 2x3 affine map this view -> original image pixels (rotation undone, downscale undone).
        original_size: (width, height) of the original image, to clip reported boxes.
    """

    image: np.ndarray
    quarter_turns: int
    forward: np.ndarray
    backward: np.ndarray
    original_size: tuple[int, int]

    @classmethod
    def of(cls, working: np.ndarray, *, quarter_turns: int, scale: float,
           original_size: tuple[int, int] | None = None) -> View:
        """A view of ``working`` turned counter-clockwise ``quarter_turns`` times (0-3)."""
        turns = quarter_turns % 4
        height, width = working.shape[:2]
        image = np.ascontiguousarray(np.rot90(working, k=turns)) if turns else working
        forward = {
            0: np.array([[1, 0, 0], [0, 1, 0]], np.float64),
            1: np.array([[0, 1, 0], [-1, 0, width - 1]], np.float64),
            2: np.array([[-1, 0, width - 1], [0, -1, height - 1]], np.float64),
            3: np.array([[0, -1, height - 1], [1, 0, 0]], np.float64),
        }[turns]
        backward = cv2.invertAffineTransform(forward) * scale
        size = original_size or (round(width * scale), round(height * scale))
        return cls(image=image, quarter_turns=turns, forward=forward, backward=backward, original_size=size)

    @property
    def degrees(self) -> int:
        """How far the card was turned clockwise in the photo (what this view undoes)."""
        return self.quarter_turns * 90

    def carry(self, quad: np.ndarray) -> np.ndarray:
        """A working-image quad expressed in this view, re-ordered from its new top-left corner."""
        points = cv2.transform(quad.reshape(-1, 1, 2).astype(np.float64), self.forward).reshape(4, 2)
        return order_quad(points)

    def to_original(self, quad: np.ndarray) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a view quad's bounding box in original pixels, clipped to the image."""
        points = cv2.transform(quad.reshape(-1, 1, 2).astype(np.float64), self.backward).reshape(-1, 2)
        max_w, max_h = self.original_size
        left = int(np.clip(np.floor(points[:, 0].min()), 0, max_w))
        top = int(np.clip(np.floor(points[:, 1].min()), 0, max_h))
        right = int(np.clip(np.ceil(points[:, 0].max()), 0, max_w))
        bottom = int(np.clip(np.ceil(points[:, 1].max()), 0, max_h))
        return left, top, right - left, bottom - top
