"""How the local recognizer is tuned: thread count, working resolution, BIN table, size guard.

Kept apart from the engine so that the pipeline's configuration (``pipeline.yaml``) can embed it as a plain
pydantic model and validate it before any model is loaded.

>>> RecognizerSettings(threads=2).max_side
1280
>>> RecognizerSettings().session_threads, RecognizerSettings(threads=4).session_threads
(1, 4)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RecognizerSettings(BaseModel):
    """Settings of one process-wide recognizer.

    Parameters:
        threads: onnxruntime intra-op threads per inference; 0 (the default) means one. One thread per
            inference is the throughput choice: the pipeline and the server run several recognitions at
            once (one per worker thread), and on 2 cores two callers at one thread each were ~2x faster than
            each asking for every core; even a single caller on a busy, shared machine ran ~1.75x faster at
            one thread than at two (the threads fight over the cores). Raise it only for one caller on an
            idle multi-core machine, where it cuts a single image's latency.
        max_side: phone photos are downscaled so their long side is at most this many pixels before
            detection: the detector gains nothing above ~1300 px and the cost grows with the area.
        bin_table: an official UnionPay BIN table (CSV) merged over the shipped table, when given.
        max_pixels: images with more pixels than this are refused from their header alone, before any pixel
            is decoded, so a decompression bomb costs nothing.
    """

    model_config = ConfigDict(extra="forbid")

    threads: int = Field(default=0, ge=0, le=256)
    max_side: int = Field(default=1280, ge=320, le=8192)
    bin_table: Path | None = None
    max_pixels: int = Field(default=60_000_000, ge=1)

    @property
    def session_threads(self) -> int:
        """The onnxruntime intra-op thread count actually used: ``threads``, or 1 for the default 0."""
        return self.threads or 1
