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
from worker.recognizer.sessions import REC_MODEL, cpu_session


def test_a_session_built_from_bytes_keeps_no_reference_to_them() -> None:
    model = recogniser_with_features(REC_MODEL)
    references = sys.getrefcount(model)
    session = cpu_session(model, 1)
    assert sys.getrefcount(model) == references  # the 21 MB go when the loader drops them
    assert len(session.get_outputs()) == 2  # type: ignore[attr-defined]


def test_sessions_plan_no_memory_pattern_and_keep_no_arena() -> None:
    options = cpu_session(str(MODEL_PATH), 1).get_session_options()  # type: ignore[attr-defined]
    assert options.enable_mem_pattern is False
    assert options.enable_cpu_mem_arena is False


def test_a_session_from_bytes_answers_as_one_from_the_file() -> None:
    from_file = cpu_session(str(MODEL_PATH), 1)
    from_bytes = cpu_session(MODEL_PATH.read_bytes(), 1)
    features = np.random.default_rng(7).standard_normal((1, 384, 1, 40), dtype=np.float32)
    name = from_file.get_inputs()[0].name  # type: ignore[attr-defined]
    expected = from_file.run(None, {name: features})[0]  # type: ignore[attr-defined]
    for _ in range(2):  # a second run of the same shape is planned as the first
        assert np.array_equal(from_bytes.run(None, {name: features})[0], expected)  # type: ignore[attr-defined]
