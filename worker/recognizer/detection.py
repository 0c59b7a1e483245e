"""The DB text detector's input sizing and box extraction, as PaddleOCR and RapidOCR define them.

The detector model outputs a per-pixel text probability map; these functions turn a page into the model's
input size and the map into boxes. They follow RapidOCR's ``ch_ppocr_det.utils`` (Apache-2.0, from
PaddleOCR's ``DBPostProcess``; see ``data/NOTICE``) step for step, so the boxes are the same, but live here
so that the recognizer does not import RapidOCR, whose package import costs over a second of a cold start
(its omegaconf configuration, requests and shapely). The polygon area and perimeter that shapely gave are
computed as GEOS computes them, on the same float64 values.

>>> import numpy as np
>>> detection_size(np.zeros((500, 2000, 3), np.uint8), 960)
(960, 256)
>>> probability = np.zeros((1, 1, 64, 64), np.float32); probability[0, 0, 20:30, 8:56] = 0.9
>>> boxes, scores = BoxExtractor(box_thresh=0.5, unclip_ratio=1.5)(probability, (64, 64))
>>> boxes.shape, round(scores[0], 2)
((1, 4, 2), 0.81)
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import pyclipper

#: Pixels above this probability are text (the DB model's own binarisation threshold).
BINARY_THRESHOLD = 0.3
MAX_CANDIDATES = 1000
MIN_SIZE = 3


def detection_size(image: np.ndarray, max_side: int) -> tuple[int, int] | None:
    """(width, height) the detector reads ``image`` at: long side at most ``max_side``, both sides rounded
    to a multiple of 32 (the network's stride); None when a side rounds to nothing."""
    height, width = image.shape[:2]
    ratio = 1.0
    if max(height, width) > max_side:
        ratio = float(max_side) / height if height > width else float(max_side) / width
    resized_height = round(int(height * ratio) / 32) * 32
    resized_width = round(int(width * ratio) / 32) * 32
    if resized_width <= 0 or resized_height <= 0:
        return None
    return int(resized_width), int(resized_height)


class BoxExtractor:
    """Boxes and scores from one probability map; immutable, so one instance serves every thread.

    Parameters:
        box_thresh: minimum mean probability inside a box.
        unclip_ratio: how far each region is grown (its area x ratio / perimeter).
        dilate: dilate the binary map by 2x2 first (joins broken strokes).
    """

    def __init__(self, *, box_thresh: float, unclip_ratio: float, dilate: bool = False) -> None:
        self.box_thresh = box_thresh
        self.unclip_ratio = unclip_ratio
        self.dilation_kernel = np.array([[1, 1], [1, 1]]) if dilate else None

    def __call__(self, prediction: np.ndarray, original_shape: tuple[int, int]) -> tuple[np.ndarray, list[float]]:
        """Boxes (N x 4 x 2, clockwise from top-left, in the original image's pixels) and their scores."""
        height, width = original_shape
        probability = prediction[:, 0, :, :]
        segmentation = probability > BINARY_THRESHOLD
        mask = segmentation[0]
        if self.dilation_kernel is not None:
            mask = cv2.dilate(np.array(segmentation[0]).astype(np.uint8), self.dilation_kernel)
        boxes, scores = self._boxes_from_bitmap(probability[0], mask, width, height)
        return _clipped_boxes(boxes, scores, height, width)

    def _boxes_from_bitmap(self, probability: np.ndarray, bitmap: np.ndarray, dest_width: int,
                           dest_height: int) -> tuple[np.ndarray, list[float]]:
        height, width = bitmap.shape
        contours = cv2.findContours((bitmap * 255).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[-2]
        boxes, scores = [], []
        for contour in contours[:MAX_CANDIDATES]:
            points, short_side = _mini_box(contour)
            if short_side < MIN_SIZE:
                continue
            score = _box_score(probability, points.reshape(-1, 2))
            if self.box_thresh > score:
                continue
            box, short_side = _mini_box(self._unclip(points))
            if short_side < MIN_SIZE + 2:
                continue
            box[:, 0] = np.clip(np.round(box[:, 0] / width * dest_width), 0, dest_width)
            box[:, 1] = np.clip(np.round(box[:, 1] / height * dest_height), 0, dest_height)
            boxes.append(box.astype(np.int32))
            scores.append(score)
        return np.array(boxes, dtype=np.int32), scores

    def _unclip(self, box: np.ndarray) -> np.ndarray:
        area, perimeter = _area_and_perimeter([(float(x), float(y)) for x, y in box])
        offset = pyclipper.PyclipperOffset()
        offset.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        return np.array(offset.Execute(area * self.unclip_ratio / perimeter)).reshape((-1, 1, 2))


def _area_and_perimeter(corners: list[tuple[float, float]]) -> tuple[float, float]:
    """Area and perimeter of a simple polygon, summed in the order GEOS (shapely) sums them, so the
    unclip distance is the same to the last bit."""
    ring = [*corners, corners[0]]
    x0 = ring[0][0]
    twice_area = 0.0
    for i in range(1, len(ring) - 1):
        twice_area += (ring[i][0] - x0) * (ring[i - 1][1] - ring[i + 1][1])
    perimeter = 0.0
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        perimeter += math.sqrt((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1))
    return abs(twice_area / 2.0), perimeter


def _mini_box(contour: np.ndarray) -> tuple[np.ndarray, float]:
    """The contour's minimum-area rectangle, corners ordered top-left, top-right, bottom-right, bottom-left."""
    rectangle = cv2.minAreaRect(contour)
    points = sorted(cv2.boxPoints(rectangle), key=lambda point: point[0])
    first, fourth = (0, 1) if points[1][1] > points[0][1] else (1, 0)
    second, third = (2, 3) if points[3][1] > points[2][1] else (3, 2)
    return np.array([points[first], points[second], points[third], points[fourth]]), min(rectangle[1])


def _box_score(bitmap: np.ndarray, corners: np.ndarray) -> float:
    """Mean probability inside the quadrilateral ``corners``."""
    height, width = bitmap.shape[:2]
    box = corners.copy()
    xmin = np.clip(np.floor(box[:, 0].min()).astype(np.int32), 0, width - 1)
    xmax = np.clip(np.ceil(box[:, 0].max()).astype(np.int32), 0, width - 1)
    ymin = np.clip(np.floor(box[:, 1].min()).astype(np.int32), 0, height - 1)
    ymax = np.clip(np.ceil(box[:, 1].max()).astype(np.int32), 0, height - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    box[:, 0] = box[:, 0] - xmin
    box[:, 1] = box[:, 1] - ymin
    cv2.fillPoly(mask, box.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(bitmap[ymin:ymax + 1, xmin:xmax + 1], mask)[0]


def _clipped_boxes(boxes: np.ndarray, scores: list[float], height: int,
                   width: int) -> tuple[np.ndarray, list[float]]:
    """Boxes ordered clockwise and clipped to the image; boxes 3 pixels or less across are dropped."""
    kept, kept_scores = [], []
    for box, score in zip(boxes, scores, strict=True):
        ordered = _clockwise(box)
        ordered[:, 0] = np.clip(ordered[:, 0], 0, width - 1).astype(np.int32)
        ordered[:, 1] = np.clip(ordered[:, 1], 0, height - 1).astype(np.int32)
        if int(np.linalg.norm(ordered[0] - ordered[1])) <= 3 or int(np.linalg.norm(ordered[0] - ordered[3])) <= 3:
            continue
        kept.append(ordered)
        kept_scores.append(score)
    return np.array(kept), kept_scores


def _clockwise(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left, as float32."""
    by_x = points[np.argsort(points[:, 0]), :]
    left, right = by_x[:2, :], by_x[2:, :]
    top_left, bottom_left = left[np.argsort(left[:, 1]), :]
    top_right, bottom_right = right[np.argsort(right[:, 1]), :]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype="float32")
