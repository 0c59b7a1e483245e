"""API 3.0's quality signals for a card photo the recognizer has read: warnings, a blur score and two crops.

Each signal is measured on the card itself (its outline found and straightened to 856x540), or on the whole
photo when no outline shows:

* ``-9110`` date invalid: the card's ValidDate lies in a month that has ended (the card has expired) or is
  not a month at all.
* ``-9111`` border incomplete is **not returned**: the candidate detector (the card's outline found with a
  corner on the frame) is measured in scripts/bench/quality.py, and is too weak to be a warning anyone can act
  on (docs/benchmarks.md has its figures). ``EnableBorderCheck`` is accepted and raises nothing.
* ``-9112`` glare: a blown-out, colourless patch covering a sizeable share of the card, much brighter than
  the rest of the card (so a white card's face is no glare).
* ``-9113`` photocopy: the whole photo, card and background, carries no colour (a grayscale copy).
* ``-9114`` re-shot from a screen: a screen's pixel grid beats with the camera's into moiré, which shows
  as strong isolated peaks in the spectrum of the photo's luminance.
* ``QualityValue``: 0-100 from the variance of the Laplacian of the straightened card, at the size it was
  photographed (sharp cards score high, blurred ones low; below 50 is what the API calls blurred).
* ``RetBorderCutImage`` / ``RetCardNoImage``: base64 JPEGs of the straightened card and of the number line.

The thresholds and each detector's precision and recall on generated cards made for it are in
docs/benchmarks.md ("Quality signals"), with the command that measured them.

>>> wanted = QualityRequest(quality_value=True, copy_check=True)
>>> report = assess(card_jpeg, answer, wanted)            # doctest: +SKIP
>>> report.response_fields()                              # doctest: +SKIP
{'WarningCode': [], 'QualityValue': 87}
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from worker.api.legacy.schema import BankCardResponse, CardField
from worker.recognizer.cardframe import CARD_HEIGHT, CARD_WIDTH, find_card_quad
from worker.recognizer.errors import RecognizerError
from worker.recognizer.geometry import quad_size
from worker.recognizer.imageio import decode_image

DATE_INVALID = -9110
BORDER_INCOMPLETE = -9111
GLARE = -9112
PHOTOCOPY = -9113
RESHOOT = -9114

#: Laplacian variance of the straightened card that maps to a QualityValue of 50.
BLUR_HALF_SCORE_VARIANCE = 15.0
#: A card is glared when its largest blown-out patch covers at least this share of it...
GLARE_MIN_SHARE = 0.012
#: ...and is at least this much brighter (0-255) than the rest of the card's median.
GLARE_MIN_CONTRAST = 40.0
#: A photo is a grayscale copy when 99% of its pixels have a chroma (Lab a*, b* distance) below this.
COPY_MAX_CHROMA = 6.0
#: A re-shoot's strongest 20 spectrum peaks stand this far (natural log units) above their neighbourhood; a
#: photo of a card's print reaches about 2.3 at most.
MOIRE_MIN_SCORE = 3.0
JPEG_QUALITY = 90


@dataclass(frozen=True)
class QualityRequest:
    """Which signals a caller asked for (API 3.0's request flags).

    The date and glare warnings have no flag in the API: they are always computed. ``border_check`` is accepted
    and raises nothing (see the module docstring).
    """

    border_cut_image: bool = False
    card_no_image: bool = False
    copy_check: bool = False
    reshoot_check: bool = False
    border_check: bool = False
    quality_value: bool = False


@dataclass
class QualityReport:
    """What :func:`assess` found; :meth:`response_fields` gives the API 3.0 fields."""

    warnings: list[int] = field(default_factory=list)
    quality_value: int | None = None
    border_cut_jpeg: bytes | None = None
    card_no_jpeg: bytes | None = None

    def response_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"WarningCode": sorted(self.warnings, reverse=True)}
        if self.quality_value is not None:
            fields["QualityValue"] = self.quality_value
        if self.border_cut_jpeg is not None:
            fields["BorderCutImage"] = base64.b64encode(self.border_cut_jpeg).decode("ascii")
        if self.card_no_jpeg is not None:
            fields["CardNoImage"] = base64.b64encode(self.card_no_jpeg).decode("ascii")
        return fields


@dataclass(frozen=True)
class CardView:
    """The photo (BGR, working size), the card's outline in it when found, and the straightened card: at
    856x540 (``card``), and at most at the size it has in the photo (``card_as_photographed``).

    Sharpness is measured on the latter: straightening a card photographed 450 px wide to 856 px enlarges
    it, and an enlarged card is as blurred to the Laplacian as a card photographed out of focus.
    """

    photo: np.ndarray
    scale: float
    quad: np.ndarray | None
    card: np.ndarray
    card_as_photographed: np.ndarray

    @classmethod
    def of(cls, photo_bgr: np.ndarray, scale: float = 1.0) -> CardView:
        quad = find_card_quad(photo_bgr)
        if quad is None:
            card = cv2.resize(photo_bgr, (CARD_WIDTH, CARD_HEIGHT), interpolation=cv2.INTER_AREA)
            return cls(photo=photo_bgr, scale=scale, quad=None, card=card, card_as_photographed=card)
        card = _straightened(photo_bgr, quad, 1.0)
        shrink = min(1.0, max(quad_size(quad)) / CARD_WIDTH)
        as_photographed = card if shrink == 1.0 else _straightened(photo_bgr, quad, shrink)
        return cls(photo=photo_bgr, scale=scale, quad=quad, card=card, card_as_photographed=as_photographed)


def _straightened(photo_bgr: np.ndarray, quad: np.ndarray, factor: float) -> np.ndarray:
    """The card inside ``quad`` warped upright to 856x540 times ``factor``."""
    width, height = max(round(CARD_WIDTH * factor), 1), max(round(CARD_HEIGHT * factor), 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return cv2.warpPerspective(photo_bgr, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def date_invalid(valid_date: str, today: dt.date | None = None) -> bool:
    """True for a ``MM/YYYY`` that is not a month, or a month that has ended; False when there is no date."""
    if not valid_date:
        return False
    month_text, _, year_text = valid_date.partition("/")
    if not (month_text.isdigit() and year_text.isdigit()):
        return True
    month, year = int(month_text), int(year_text)
    if not 1 <= month <= 12:
        return True
    today = today or dt.datetime.now(dt.UTC).date()
    return (year, month) < (today.year, today.month)


def quality_value(card_bgr: np.ndarray) -> int:
    """0 (a blur) .. 100 (sharp) from the variance of the Laplacian of the straightened card (as photographed:
    :attr:`CardView.card_as_photographed`)."""
    gray = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2GRAY)
    variance = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return round(100.0 * variance / (variance + BLUR_HALF_SCORE_VARIANCE))


def glare_share(card_bgr: np.ndarray) -> float:
    """The share of the card covered by its largest blown-out patch that is brighter than its surroundings."""
    hsv = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2HSV)
    value, saturation = hsv[:, :, 2], hsv[:, :, 1]
    blown = ((value >= 245) & (saturation <= 40)).astype(np.uint8)
    blown = cv2.morphologyEx(blown, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blown, connectivity=8)
    if count <= 1:
        return 0.0
    gray = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    area = float(card_bgr.shape[0] * card_bgr.shape[1])
    best = 0.0
    for label in 1 + np.argsort(stats[1:, cv2.CC_STAT_AREA])[::-1][:3]:
        share = stats[label, cv2.CC_STAT_AREA] / area
        if share < GLARE_MIN_SHARE or share > 0.6:
            continue
        inside = labels == label
        if float(gray[inside].mean()) - float(np.median(gray[~inside])) >= GLARE_MIN_CONTRAST:
            best = max(best, share)
    return best


def is_photocopy(photo_bgr: np.ndarray) -> bool:
    """True when the whole photo, card and surroundings, is colourless."""
    lab = cv2.cvtColor(photo_bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    chroma = np.hypot(lab[:, :, 1] - 128.0, lab[:, :, 2] - 128.0)
    return float(np.percentile(chroma, 99)) < COPY_MAX_CHROMA


def moire_score(photo_bgr: np.ndarray) -> float:
    """How far the 20 strongest peaks of the photo's luminance spectrum (outside its lowest frequencies) stand
    above their neighbourhood, in natural log units: a screen's grid beating with the camera's makes them."""
    gray = cv2.cvtColor(photo_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gray -= gray.mean()
    height, width = gray.shape
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    spectrum = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(gray * window)))).astype(np.float32)
    excess = spectrum - cv2.blur(spectrum, (15, 15))
    yy, xx = np.ogrid[:height, :width]
    radius = np.hypot((yy - height / 2) / (height / 2), (xx - width / 2) / (width / 2))
    values = excess[(radius > 0.2) & (radius < 0.98)]
    return float(np.sort(values)[-20:].mean())


def _jpeg(image_bgr: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return encoded.tobytes()


def _number_crop(view: CardView, answer: BankCardResponse) -> np.ndarray | None:
    item = answer.field(CardField.CARD_NUMBER)
    if item is None or item.itemcoord.width <= 0 or item.itemcoord.height <= 0:
        return None
    box = item.itemcoord
    x0, y0 = int(box.x / view.scale), int(box.y / view.scale)
    x1, y1 = int((box.x + box.width) / view.scale) + 1, int((box.y + box.height) / view.scale) + 1
    height, width = view.photo.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return view.photo[y0:y1, x0:x1]


def assess(data: bytes, answer: BankCardResponse, wanted: QualityRequest, *, max_side: int = 1280,
           today: dt.date | None = None) -> QualityReport:
    """The signals ``wanted`` asks for, for the photo ``data`` that the recognizer answered with ``answer``.

    Parameters:
        data: the image bytes as uploaded.
        answer: the recognizer's code-0 answer for them (the number box and the expiry come from it).
        wanted: the request's flags.
        max_side: the working resolution, as the recognizer's.
        today: the date the expiry is compared with; today (UTC) by default.
    """
    report = QualityReport()
    if date_invalid(answer.value(CardField.EXPIRY), today):
        report.warnings.append(DATE_INVALID)
    try:
        image = decode_image(data, max_side=max_side)
    except RecognizerError:
        return report
    view = CardView.of(np.ascontiguousarray(image.pixels[:, :, ::-1]), image.scale)
    if glare_share(view.card) > 0:
        report.warnings.append(GLARE)
    if wanted.copy_check and is_photocopy(view.photo):
        report.warnings.append(PHOTOCOPY)
    if wanted.reshoot_check and moire_score(view.photo) >= MOIRE_MIN_SCORE:
        report.warnings.append(RESHOOT)
    if wanted.quality_value:
        report.quality_value = quality_value(view.card_as_photographed)
    if wanted.border_cut_image:
        report.border_cut_jpeg = _jpeg(view.card)
    if wanted.card_no_image:
        crop = _number_crop(view, answer)
        report.card_no_jpeg = _jpeg(crop) if crop is not None else None
    return report
