"""A second reader for the card-number line: a digit head trained on card numbers, over PP-OCR's features.

Why it exists: the general recogniser reads embossed digits in the card's own colour with confident,
*consistent* misreadings (8 read as 3 by every crop of the line), and votes between its own reads cannot
catch an error they all share. This reader shares the recogniser's convolutional backbone — its features
come out of the same inference, at no extra cost — but has its own sequence neck and a 12-class head
(CTC blank, the ten digits, the group space), fine-tuned on number lines of generated cards in every
style and degradation of ``scripts/make_cards.py``. Its read is one more voter for the number; its errors
are only partly independent of the general head's (a misreading the backbone causes, both make).

The recogniser's graph is loaded with one more output, the backbone's feature map (``BACKBONE_OUTPUT``,
declared by :func:`worker.recognizer.sessions.with_extra_output`);
the head model (``data/number_reader.onnx``, built by ``scripts/train/number_reader.py``) takes that map
and returns per-timestep probabilities over :data:`CHARSET`.

>>> reader = NumberReader.load(threads=1)                            # doctest: +SKIP
>>> reader.read(features).text                                       # doctest: +SKIP
'6225 7600 0000 0008'
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np

from worker.recognizer.ctc import Decoded, ctc_decode
from worker.recognizer.sessions import cpu_session, with_extra_output

#: The recogniser's backbone output (N x 384 x 1 x T) that the head reads.
BACKBONE_OUTPUT = "p2o.pd_op.pool2d.1.0"
#: The head's classes, index 0 is the CTC blank.
CHARSET = ("blank", *"0123456789", " ")
MODEL_PATH = Path(__file__).resolve().parent / "data" / "number_reader.onnx"


def recogniser_with_features(model_path: Path, *tensors: str) -> bytes:
    """The recogniser's model, serialised, with its inner ``tensors`` as more outputs, in that order: the
    backbone's feature map when none are named (training may cache another, see
    ``scripts/train/number_reader.py``).

    A model whose graph has no such tensor is refused here; onnxruntime checks the rest when it loads the
    bytes (an output no node produces is an error there).
    """
    model = model_path.read_bytes()
    for tensor in tensors or (BACKBONE_OUTPUT,):
        if tensor.encode() not in model:
            raise ValueError(f"{model_path.name} has no tensor {tensor!r}: not the recogniser this "
                             "reader was trained on")
        model = with_extra_output(model, tensor)
    return model


class TrainedHead:
    """A head trained over the recogniser's backbone features (the number head, the date head): its classes,
    where its model ships, and its read of one line's features; stateless after loading, shared by every
    thread. Each head names its own classes and model."""

    charset: tuple[str, ...]
    model_path: Path

    def __init__(self, session: object) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]

    @classmethod
    def load(cls, *, threads: int = 0, path: Path | None = None) -> Self:
        path = path or cls.model_path
        if not path.is_file():
            raise FileNotFoundError(f"{cls.__name__} model missing: {path}")
        return cls(cpu_session(str(path), threads))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Per-timestep class probabilities (T x classes) for one line's backbone features (1 x 384 x 1 x T)."""
        return self._session.run(None, {self._input: features})[0][0]  # type: ignore[attr-defined]

    def read(self, features: np.ndarray, *, width_fraction: float = 1.0) -> Decoded:
        return ctc_decode(self.probabilities(features), self.charset, width_fraction=width_fraction)


class NumberReader(TrainedHead):
    """The trained number head."""

    charset = CHARSET
    model_path = MODEL_PATH
