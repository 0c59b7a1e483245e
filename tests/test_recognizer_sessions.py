"""How the onnxruntime sessions are built: what they keep in memory, and that it changes no output.

Why: the recognizer's peak RSS is mostly onnxruntime's (the detector's intermediate tensors) and what the
process keeps after loading; a session option or a kept reference that comes back silently costs tens of MB
in every worker process. These are properties of the sessions, not timings or RSS figures, so they hold on any
machine.
"""

from __future__ import annotations

import sys

import numpy as np

from worker.recognizer.numberreader import MODEL_PATH, recogniser_with_features
from worker.recognizer.sessions import DET_MODEL, REC_MODEL, cpu_session


def test_a_session_built_from_bytes_keeps_no_reference_to_them() -> None:
    model = recogniser_with_features(REC_MODEL)
    references = sys.getrefcount(model)
    session = cpu_session(model, 1)
    assert sys.getrefcount(model) == references  # the 21 MB go when the loader drops them
    assert len(session.get_outputs()) == 2  # type: ignore[attr-defined]


def test_sessions_plan_no_memory_pattern_and_keep_no_arena_unless_asked() -> None:
    options = cpu_session(str(MODEL_PATH), 1).get_session_options()  # type: ignore[attr-defined]
    assert options.enable_mem_pattern is False
    assert options.enable_cpu_mem_arena is False


def test_only_the_detector_keeps_an_arena() -> None:
    """Its pages are bounded (960 px) and large: an arena saves the kernel zeroing fresh pages on every run."""
    from worker.recognizer.engine import OcrEngine

    engine = OcrEngine.load(threads=1)
    assert engine._det_session.get_session_options().enable_cpu_mem_arena is True  # type: ignore[attr-defined]
    assert engine._rec_session.get_session_options().enable_cpu_mem_arena is False  # type: ignore[attr-defined]


def test_the_detector_answers_the_same_with_an_arena() -> None:
    plain = cpu_session(str(DET_MODEL), 1)
    with_arena = cpu_session(str(DET_MODEL), 1, memory_arena=True)
    name = plain.get_inputs()[0].name  # type: ignore[attr-defined]
    rng = np.random.default_rng(3)
    for height, width in ((320, 480), (480, 320), (320, 480)):  # a smaller page after a larger one reuses blocks
        page = rng.standard_normal((1, 3, height, width), dtype=np.float32)
        expected = plain.run(None, {name: page})[0]  # type: ignore[attr-defined]
        assert np.array_equal(with_arena.run(None, {name: page})[0], expected)  # type: ignore[attr-defined]


def test_a_session_from_bytes_answers_as_one_from_the_file() -> None:
    from_file = cpu_session(str(MODEL_PATH), 1)
    from_bytes = cpu_session(MODEL_PATH.read_bytes(), 1)
    features = np.random.default_rng(7).standard_normal((1, 384, 1, 40), dtype=np.float32)
    name = from_file.get_inputs()[0].name  # type: ignore[attr-defined]
    expected = from_file.run(None, {name: features})[0]  # type: ignore[attr-defined]
    for _ in range(2):  # a second run of the same shape is planned as the first
        assert np.array_equal(from_bytes.run(None, {name: features})[0], expected)  # type: ignore[attr-defined]
