"""The OCR models (PP-OCR's detector and recogniser, bundled in the rapidocr wheel), loaded once, safe to share.

The onnxruntime sessions are built directly from the wheel's model files (:mod:`worker.recognizer.sessions`),
with RapidOCR's options but without RapidOCR itself, whose import and configuration cost over a second of a
cold start; and this module drives them:

* detection runs the DB model and a box extractor chosen per call (:mod:`worker.recognizer.detection`, one
  immutable instance per threshold), so threads with different parameters never share mutable state;
* recognition returns the raw per-timestep class probabilities, so the card logic can decode them twice —
  over the full charset, over digits only, and over digits and date separators (:mod:`worker.recognizer.ctc`);
  asked for, it also returns the backbone's features read by the card-number head
  (:mod:`worker.recognizer.numberreader`), a second reader at the cost of a millisecond.

The wheel's text-direction classifier is never loaded: it flips digit-only boxes ("3063" read as "E9OE"),
so upside-down cards are handled by reading the whole page turned 180 degrees.

onnxruntime's ``InferenceSession.run`` is thread-safe and nothing here mutates shared state after loading,
so one engine serves every thread of the process without a lock.

>>> engine = OcrEngine.load(threads=2)                       # doctest: +SKIP
>>> detections = engine.detect(bgr_image)                                   # doctest: +SKIP
>>> reads = engine.read([crop_quad(bgr_image, d.quad) for d in detections])  # doctest: +SKIP
>>> reads[0].full.text, reads[0].digits.text                                # doctest: +SKIP
('VALID THRU 08/28', '1  08728')
"""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from worker.recognizer.ctc import Decoded, charset_mask, ctc_decode
from worker.recognizer.datereader import DateReader
from worker.recognizer.detection import BoxExtractor, detection_size
from worker.recognizer.lineinput import line_tensor
from worker.recognizer.numberreader import BACKBONE_OUTPUT, NumberReader, recogniser_with_features
from worker.recognizer.sessions import DET_MODEL, REC_MODEL, check_model_files, cpu_session

#: The detector's input normalisation (PP-OCR's: pixel / 255, then (x - 0.5) / 0.5 per channel).
DET_MEAN = np.float32(0.5)
DET_STD = np.float32(0.5)
DIGITS = "0123456789"


@dataclass(frozen=True)
class Detection:
    """A text region: four corners (clockwise from top-left, in the detected image's pixels) and a score."""

    quad: np.ndarray
    score: float


@dataclass(frozen=True)
class LineRead:
    """One crop read by the recogniser, decoded over the full charset and over digits only.

    ``full`` is what a general OCR would answer; ``digits`` is the same output with every non-digit class
    masked before the argmax; ``date`` keeps digits and the separators a date uses; ``number`` is the
    card-number head's read (digits and group spaces), present only when asked for; ``expiry`` is the date
    head's read (digits and a date's separators), likewise.
    """

    full: Decoded
    digits: Decoded
    date: Decoded
    number: Decoded | None = None
    expiry: Decoded | None = None


class OcrEngine:
    """The detector and recogniser sessions of one process. Build it with :meth:`load`."""

    def __init__(self, detector: object, recogniser: object, number_reader: NumberReader,
                 date_reader: DateReader, load_seconds: float) -> None:
        self._det_session = detector
        self._det_input = detector.get_inputs()[0].name  # type: ignore[attr-defined]
        self._rec_session = recogniser
        self._rec_input = recogniser.get_inputs()[0].name  # type: ignore[attr-defined]
        self._rec_probs = recogniser.get_outputs()[0].name  # type: ignore[attr-defined]
        self._number_reader = number_reader
        self._date_reader = date_reader
        self.charset: list[str] = recogniser_charset(recogniser)
        self._digit_mask = charset_mask(self.charset, DIGITS)
        self._date_mask = charset_mask(self.charset, DIGITS + "/-.")
        self._extractors: dict[tuple[float, float, bool], BoxExtractor] = {}
        self._extractor_lock = threading.Lock()
        self.load_seconds = load_seconds

    @classmethod
    def load(cls, *, threads: int = 0) -> OcrEngine:
        """Load the bundled detector and recogniser, and the card-number and date heads.

        Parameters:
            threads: onnxruntime intra-op threads per session; 0 leaves the choice to onnxruntime (all cores).
                :class:`~worker.recognizer.settings.RecognizerSettings` passes 1 by default.
        """
        check_model_files()
        started = time.perf_counter()
        detector = cpu_session(str(DET_MODEL), threads, memory_arena=True)  # its pages are at most 960 px
        recogniser = cpu_session(recogniser_with_features(REC_MODEL), threads)
        number_reader = NumberReader.load(threads=threads)
        date_reader = DateReader.load(threads=threads)
        _release_freed_memory()
        return cls(detector, recogniser, number_reader, date_reader, time.perf_counter() - started)

    # -- detection ---------------------------------------------------------------------------------------

    def detect(self, bgr: np.ndarray, *, box_thresh: float = 0.5, unclip_ratio: float = 1.5,
               max_side: int = 960, dilate: bool = False) -> list[Detection]:
        """Text regions of ``bgr`` (uint8, H x W x 3), sorted top to bottom, in ``bgr``'s pixels.

        Parameters:
            box_thresh: minimum mean text probability inside a box; lower finds faint embossed digits.
            unclip_ratio: how far each region is grown; larger joins neighbouring words into one box.
            max_side: the detector sees the image with its long side at most this (cost grows with area).
            dilate: dilate the text mask first (joins broken strokes, but also stacked labels and dates).
        """
        size = detection_size(bgr, max_side)
        if size is None:
            return []
        resized = cv2.resize(bgr, size)
        # normalised in float32: RapidOCR's own step promotes the whole page to float64 (~20 ms a page)
        scale = np.float32(1.0 / 255.0)
        tensor = (resized.astype(np.float32) * scale - DET_MEAN) / DET_STD
        tensor = np.ascontiguousarray(tensor.transpose((2, 0, 1))[None])
        probability_map = self._det_session.run(None, {self._det_input: tensor})[0]  # type: ignore[attr-defined]
        boxes, scores = self._extractor(box_thresh, unclip_ratio, dilate)(probability_map, bgr.shape[:2])
        detections = [Detection(quad=np.asarray(b, dtype=np.float32), score=float(s))
                      for b, s in zip(boxes, scores, strict=False)]
        detections.sort(key=lambda d: (float(d.quad[:, 1].mean()), float(d.quad[:, 0].mean())))
        return detections

    def _extractor(self, box_thresh: float, unclip_ratio: float, dilate: bool) -> BoxExtractor:
        key = (round(box_thresh, 3), round(unclip_ratio, 3), dilate)
        found = self._extractors.get(key)
        if found is None:
            with self._extractor_lock:
                found = self._extractors.setdefault(key, BoxExtractor(
                    box_thresh=key[0], unclip_ratio=key[1], dilate=dilate))
        return found

    # -- recognition -------------------------------------------------------------------------------------

    def read(self, crops: list[np.ndarray], *, number: bool = False, expiry: bool = False) -> list[LineRead]:
        """Read each crop (a single text line, BGR) and decode it three ways; order follows ``crops``.
        With ``number``, the card-number head reads each crop too (``LineRead.number``); with ``expiry``, the
        date head (``LineRead.expiry``).

        Crops are run one at a time: in a padded batch the recogniser's attention reaches into the padding
        and garbles short lines (a date next to a long number came out wrong), and on CPU a batch saves
        little, as the cost is proportional to the width actually read.
        """
        outputs = [self._rec_probs, BACKBONE_OUTPUT] if number or expiry else [self._rec_probs]
        results = []
        for crop in crops:
            tensor, fraction = line_tensor(crop)
            produced = self._rec_session.run(outputs, {self._rec_input: tensor[None]})  # type: ignore[attr-defined]
            line = produced[0][0]
            results.append(LineRead(
                full=ctc_decode(line, self.charset, width_fraction=fraction),
                digits=ctc_decode(line, self.charset, allowed=self._digit_mask, width_fraction=fraction),
                date=ctc_decode(line, self.charset, allowed=self._date_mask, width_fraction=fraction),
                number=self._number_reader.read(produced[1], width_fraction=fraction) if number else None,
                expiry=self._date_reader.read(produced[1], width_fraction=fraction) if expiry else None,
            ))
        return results


def _release_freed_memory() -> None:
    """Hand the loader's freed buffers back to the system (glibc keeps them otherwise).

    Building the sessions reads the 21 MB recogniser into Python bytes and onnxruntime parses it; glibc keeps
    those pages after they are freed, resident memory every process would carry for its whole life.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: nothing to trim, or the allocator returns memory itself
    libc.malloc_trim(0)


def recogniser_charset(session: object) -> list[str]:
    """Class index -> character, as RapidOCR builds it: the CTC blank, the model's own list, then the space."""
    meta = session.get_modelmeta().custom_metadata_map  # type: ignore[attr-defined]
    return ["blank", *meta["character"].splitlines(), " "]
