"""One crop read by both readers: the candidates its two reads propose, and the digit groups they show.

Every re-read of a number line, and every strip of the number band, is read by the general recogniser and by
the card-number head at once (:meth:`worker.recognizer.engine.OcrEngine.read` with ``number``). The vote must
know that the two reads share a crop (their errors are only partly independent), so the head's candidates carry
the crop's ``source`` plus :data:`~worker.recognizer.cardnumber.HEAD_SOURCE_SUFFIX`; and the line checks
(:mod:`worker.recognizer.linereads`) weigh what both reads show, whether or not it made a candidate.
"""

from __future__ import annotations

from collections.abc import Callable

from worker.recognizer.cardnumber import HEAD_SOURCE_SUFFIX, Candidate, candidates_from_read
from worker.recognizer.engine import LineRead
from worker.recognizer.linereads import line_groups


def digits_of_both_readers(read: LineRead) -> list[str]:
    """The digit groups the general read and the head's read of one crop show (see :func:`line_groups`)."""
    reads = [read.digits.chars] + ([read.number.chars] if read.number is not None else [])
    return [groups for chars in reads if (groups := line_groups(chars)) is not None]


def candidates_of_both_readers(read: LineRead, acceptable: Callable[[str], bool], *, source: str,
                               repair: bool = True) -> list[Candidate]:
    """The candidates of one crop's digits-only read and of the card-number head's read of it (when asked
    for), the head's labelled ``source`` + :data:`HEAD_SOURCE_SUFFIX` so the vote knows they share a crop."""
    found = candidates_from_read(read.digits.chars, acceptable, source=source, repair=repair)
    if read.number is not None:
        found += candidates_from_read(read.number.chars, acceptable, source=f"{source}{HEAD_SOURCE_SUFFIX}",
                                      repair=repair)
    return found
