"""The last resort for the number: strips across the ISO number band of the card's outline, read directly.

When no detected line gave a number, the card's outline (:func:`~worker.recognizer.cardframe.find_card_quad`)
is straightened and horizontal strips across the band where ISO 7811 prints the number are read by both readers
(:mod:`worker.recognizer.cropreads`), with no detection at all. The strips are blind guesses at where the line
is, so a band answer needs more support than a detected line's (:data:`MIN_BAND_STRIPS`, both renderings).

>>> answer = read_number_band(engine, upright_view, card_quad, acceptable, pool, line_reads)  # doctest: +SKIP
>>> answer.decision.number                                                                      # doctest: +SKIP
'6225760000000008'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from worker.recognizer.cardframe import number_band_strips
from worker.recognizer.cardnumber import Candidate, NumberDecision, vote
from worker.recognizer.cropreads import candidates_of_both_readers, digits_of_both_readers
from worker.recognizer.engine import OcrEngine
from worker.recognizer.geometry import View, order_quad
from worker.recognizer.renderings import clahe

#: Strip reads of the number band are blind guesses at where the line is, so a band answer needs reads of
#: this many strips (the general and the head's read of a strip, plain or contrast-enhanced, count as one: the
#: same pixels misread alike; one strip read both ways once agreed on a Luhn-valid misread of an embossed
#: line), and reads of both renderings of the strips (plain and contrast-enhanced) unless a read outside the
#: band supports it too: neighbouring strips share ~80 % of their pixels, and two plain ones once read three
#: digits of a blurred 19-digit line wrong alike, surely (a Luhn-valid number of the same bank).
MIN_BAND_STRIPS = 2
#: The number band's strips are read plain, then contrast-enhanced; a read's source ``band<i>`` is strip
#: ``i % len(strips)`` in rendering ``i // len(strips)`` (see :func:`_band_support_is_enough`).
BAND_RENDERINGS: tuple[Callable[[np.ndarray], np.ndarray] | None, ...] = (None, clahe)


@dataclass(frozen=True)
class BandAnswer:
    """A number read in the band: the vote's decision, and the corners (in the view's pixels) of the strip
    whose read was surest of it."""

    decision: NumberDecision
    quad: np.ndarray


def read_number_band(engine: OcrEngine, view: View, card: np.ndarray | None, acceptable: Callable[[str], bool],
                     pool: list[Candidate], line_reads: list[str], *,
                     upside_down: tuple[bool, ...] = (False, True)) -> BandAnswer | None:
    """The number the band of the card's outline (``card``, in the upright ``view``'s pixels) shows, with the
    strip it was read in, or None: the card's way up first, then turned 180 degrees (``upside_down``
    says which of the two to read: only one once the passes settled the way up).

    The contrast-enhanced strips are read only when the plain ones proposed a number or a read outside the
    band did: a band answer needs support from both renderings or from a direct read outside the band
    (:func:`_band_support_is_enough`), so with neither, nothing they read could be answered, and a card
    refused after every pass (most often one whose digits nothing could read) is spared half the band's reads.
    """
    if card is None:
        return None
    read_outside = any(not c.repaired for c in pool)
    for turned in upside_down:
        strips = number_band_strips(view.image, card, upside_down=turned)
        band: list[Candidate] = []
        band_reads: list[str] = []
        for rendering, render in enumerate(BAND_RENDERINGS):
            if rendering and not band and not read_outside:
                break  # see the docstring: nothing the contrast-enhanced strips read could be answered
            crops = [s.image if render is None else render(s.image) for s in strips]
            for index, read in enumerate(engine.read(crops, number=True), rendering * len(strips)):
                band += candidates_of_both_readers(read, acceptable, source=f"band{index}", repair=False)
                band_reads += digits_of_both_readers(read)
        decision = vote(pool + band, line_reads + band_reads)
        if decision is not None and _band_support_is_enough(decision, band, len(strips)):
            support = [c for c in decision.support if c in band]
            best = max(support, key=lambda c: c.conf)
            quad = strips[int(best.crop.removeprefix("band")) % len(strips)].quad
            return BandAnswer(decision=decision, quad=order_quad(quad))
    return None


def _band_support_is_enough(decision: NumberDecision, band: list[Candidate], strip_count: int) -> bool:
    """Whether the band reads behind ``decision`` come from :data:`MIN_BAND_STRIPS` strips and from both
    renderings, or from two strips and a read outside the band (band reads are labelled ``band<i>``: strip
    ``i % strip_count``, contrast-enhanced when ``i >= strip_count``)."""
    indices = [int(c.crop.removeprefix("band")) for c in decision.support if c in band]
    outside = any(c not in band and not c.repaired for c in decision.support)
    strips = {index % strip_count for index in indices}
    renderings = {index // strip_count for index in indices}
    return len(strips) >= MIN_BAND_STRIPS and (len(renderings) == 2 or outside)
