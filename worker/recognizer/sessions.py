"""Where the bundled PP-OCR models live, and how an onnxruntime session is built for each.

The three model files ship inside the ``rapidocr`` wheel; they are found through the package's import spec,
without importing it: importing RapidOCR builds its omegaconf configuration and pulls in requests and
shapely, over a second of a cold start spent on nothing the recognizer uses. The sessions are built here
directly, with the options RapidOCR itself used for them (less its memory pattern, and with a memory arena for
the detector, see :func:`cpu_session`), so the numbers that come out are the same.

The recogniser is loaded with one more output, its backbone's feature map, which the card-number head
reads. That output is declared by appending a few bytes to the serialised model instead of editing the
graph with ``onnx``: protobuf merges a repeated embedded message field that occurs twice, so
``model bytes + {graph: {output: [backbone]}}`` parses as the model with the output appended — the exact
graph an ``onnx`` edit produces, in microseconds, without importing ``onnx`` (1-2 s) or re-serialising
21 MB, and without a second copy of the recogniser in this repository.

>>> REC_MODEL.name
'PP-OCRv6_rec_small.onnx'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _model_dir() -> Path:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the rapidocr wheel that ships the OCR models is not installed")
    return Path(spec.origin).resolve().parent / "models"


#: Where the wheel keeps its models; nothing else is ever loaded (asking RapidOCR for another downloads it).
MODEL_DIR = _model_dir()
DET_MODEL = MODEL_DIR / "PP-OCRv6_det_small.onnx"
REC_MODEL = MODEL_DIR / "PP-OCRv6_rec_small.onnx"
#: The text-direction classifier: shipped with the others but never loaded (it flips digit-only boxes).
CLS_MODEL = MODEL_DIR / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"

# protobuf field numbers of onnx.proto that the appended output needs
_MODEL_GRAPH = 7
_GRAPH_OUTPUT = 12
_VALUE_INFO_NAME, _VALUE_INFO_TYPE = 1, 2
_TYPE_TENSOR = 1
_TENSOR_ELEM_TYPE = 1
_FLOAT = 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def with_extra_output(model: bytes, tensor: str) -> bytes:
    """``model`` (a serialised ONNX ModelProto) with the float tensor ``tensor`` as one more graph output,
    of unknown shape, as ``onnx.helper.make_tensor_value_info(tensor, FLOAT, None)`` declares it."""
    tensor_type = _field(_TYPE_TENSOR, _varint(_TENSOR_ELEM_TYPE << 3) + _varint(_FLOAT))
    value_info = _field(_VALUE_INFO_NAME, tensor.encode()) + _field(_VALUE_INFO_TYPE, tensor_type)
    return model + _field(_MODEL_GRAPH, _field(_GRAPH_OUTPUT, value_info))


def check_model_files() -> None:
    """Refuse to start with a clear reason when the wheel's model files are missing."""
    for path in (DET_MODEL, REC_MODEL):
        if not path.is_file():
            raise FileNotFoundError(f"bundled OCR model missing: {path} (reinstall the rapidocr wheel)")


def cpu_session(model: str | bytes, threads: int, *, memory_arena: bool = False) -> object:
    """An onnxruntime CPU session set up as RapidOCR sets up its own: ``threads`` intra-op threads (0: all
    cores), one inter-op thread, every graph optimisation, and no memory arena unless ``memory_arena`` (an
    arena keeps the largest input's buffers for ever) — and, unlike RapidOCR, no memory pattern.

    Why an arena only where asked: it pays where inputs are large and bounded. The detector reads every page
    at most 960 px on its long side, and without an arena each of its tens-of-megabyte intermediate tensors
    is a fresh mapping the kernel zeroes page by page on every run; kept in an arena, the same blocks serve
    the next page. On 40 benchmark cards a level (seed 2024), CPU an image (user + system) 0.348 -> 0.301 s clean,
    0.487 -> 0.435 s hard, 0.802 -> 0.768 s heldout, page faults 25,160 -> 121 an image on clean cards, every
    answer the same; peak RSS over the benchmark's 500 cards 392 -> 431 MB, the arena's blocks for the largest
    page. A recogniser crop's width has no such bound, its tensors are small, and an arena there saved nothing.

    Why no memory pattern: every photo gives the detector an input of another shape, and every crop the
    recogniser one of another width. A pattern plans one block per run for all of a shape's intermediate
    tensors and is kept per shape; with shapes that rarely repeat it only adds, between runs, long-lived
    allocations that pin the allocator's freed blocks. Over the recognizer benchmark's 500 cards (seed 2024)
    the peak RSS fell from 544 to 451 MB with this and the model bytes let go below, every answer the same
    and the CPU per image the same (the same kernels compute the same tensors in the same order; only where
    their buffers come from changes).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = max(threads, 0)
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = memory_arena
    options.enable_mem_pattern = False
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # a CPU session has no other provider to fall back to, so it never needs to be built again
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"], enable_fallback=0)
    if getattr(session, "_model_bytes", None) is model:
        # onnxruntime's wrapper keeps a model given as bytes, only to build the session again on a fallback
        # (its own comment: "holding the memory indefinitely"): 21 MB of the recogniser for the process's life
        session._model_bytes = None  # type: ignore[attr-defined]
    return session
