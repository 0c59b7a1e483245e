"""Text boxes of one view, grouped into lines, with what the recogniser read in each.

A card number printed as four groups is often detected as four boxes; an expiry label may sit beside or
above its date. Grouping boxes that share a baseline rebuilds the printed lines so the number can be read as
one straightened crop and a date can find its label.

>>> import numpy as np
>>> quads = [np.array([[x, 10], [x + 40, 10], [x + 40, 30], [x, 30]], np.float32) for x in (0, 50, 100)]
>>> [len(line) for line in group_lines(quads)]
[3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.recognizer.engine import LineRead
from worker.recognizer.geometry import quad_size, union_quad

#: Boxes are on one line when their centres are within this share of the box height across the line...
MAX_OFFSET_ACROSS = 0.5
#: ...their heights differ by less than this factor...
MAX_HEIGHT_RATIO = 1.8
#: ...and the gap between them is at most this many box heights.
MAX_GAP = 3.0


@dataclass(frozen=True)
class FocusedRead:
    """A second read of part of a box, e.g. the date cut away from a label the detector merged into it.

    ``start`` and ``end`` are the part's edges as fractions of the box's width.
    """

    read: LineRead
    start: float
    end: float

    def to_box_fraction(self, position: float) -> float:
        """A position in this read (fraction of the part) as a fraction of the whole box."""
        return self.start + position * (self.end - self.start)


@dataclass(frozen=True)
class TextBox:
    """A detected box in a view, its read (full, digits-only and date decodes) and any focused re-reads."""

    quad: np.ndarray
    read: LineRead
    focused: tuple[FocusedRead, ...] = ()

    @property
    def height(self) -> float:
        return quad_size(self.quad)[1]

    @property
    def centre(self) -> np.ndarray:
        return self.quad.mean(axis=0)


@dataclass(frozen=True)
class TextLine:
    """Boxes sharing a baseline, left to right, and the rotated rectangle around them."""

    boxes: tuple[TextBox, ...]
    quad: np.ndarray

    @property
    def text(self) -> str:
        return " ".join(b.read.full.text for b in self.boxes)

    @property
    def digits(self) -> str:
        return " ".join(b.read.digits.text for b in self.boxes)

    @property
    def height(self) -> float:
        return quad_size(self.quad)[1]


def _direction(quad: np.ndarray) -> np.ndarray:
    along = (quad[1] - quad[0]) + (quad[2] - quad[3])
    norm = float(np.linalg.norm(along))
    return along / norm if norm > 1e-6 else np.array([1.0, 0.0])


def _same_line(a: np.ndarray, b: np.ndarray) -> bool:
    height_a, height_b = quad_size(a)[1], quad_size(b)[1]
    if max(height_a, height_b) > MAX_HEIGHT_RATIO * max(min(height_a, height_b), 1.0):
        return False
    unit = _direction(a)
    normal = np.array([-unit[1], unit[0]])
    offset = b.mean(axis=0) - a.mean(axis=0)
    height = max(height_a, height_b)
    if abs(float(offset @ normal)) > MAX_OFFSET_ACROSS * height:
        return False
    a_span = a @ unit
    b_span = b @ unit
    gap = max(float(b_span.min() - a_span.max()), float(a_span.min() - b_span.max()), 0.0)
    return gap <= MAX_GAP * height


def group_lines(quads: list[np.ndarray]) -> list[list[int]]:
    """Indices of ``quads`` grouped into lines, each left to right, lines top to bottom."""
    parent = list(range(len(quads)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(quads)):
        for j in range(i + 1, len(quads)):
            if _same_line(quads[i], quads[j]) and _same_line(quads[j], quads[i]):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(quads)):
        groups.setdefault(root(i), []).append(i)
    lines = []
    for members in groups.values():
        unit = _direction(quads[members[0]])
        lines.append(sorted(members, key=lambda k: float(quads[k].mean(axis=0) @ unit)))
    lines.sort(key=lambda m: float(np.mean([quads[k][:, 1].mean() for k in m])))
    return lines


def build_lines(boxes: list[TextBox]) -> list[TextLine]:
    """Group read boxes into :class:`TextLine` objects."""
    groups = group_lines([b.quad for b in boxes])
    return [TextLine(boxes=tuple(boxes[i] for i in g), quad=union_quad([boxes[i].quad for i in g]))
            for g in groups]
