"""``cardpipe recognize IMAGE...``: read bank-card photos locally and print the API's answer for each.

One JSON document per image, one per line (``--pretty`` indents them for reading), in the legacy API's wire
format, so the output can be diffed against the cloud API's answers. The exit code is 1 when any image
failed; its document carries the failure code. A missing or unreadable file is a document too (-1300 or
-1102 with the reason), never a traceback; it and an empty file are answered before any model is loaded,
and the models are loaded only when the first image with content comes.

Example::

    cardpipe recognize card1.jpg card2.png --threads 2
    {"code": 0, "message": "OK", "data": {"session_id": "...", "items": [{"item": "卡号", ...}]}}
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from worker.api.errors import CardpipeError
from worker.api.legacy import codes
from worker.api.legacy.schema import BankCardResponse
from worker.recognizer import RecognizerSettings
from worker.recognizer.bins import BinTable
from worker.recognizer.errors import EMPTY_IMAGE


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files to recognize")
    parser.add_argument("--pretty", action="store_true", help="indent each JSON document for humans")
    parser.add_argument("--threads", type=int, default=None,
                        help="onnxruntime threads per inference (default: the configuration's, else 1)")
    parser.add_argument("--max-side", type=int, default=None,
                        help="downscale photos so their long side is at most this many pixels")
    parser.add_argument("--bin-table", type=Path, default=None,
                        help="official UnionPay BIN table (CSV) to merge over the shipped one")


def _settings(args: argparse.Namespace) -> RecognizerSettings:
    """The configuration's ``recognizer`` section (pipeline.yaml and environment), with the flags on top."""
    from worker.config import load_config

    base = load_config(args.config).recognizer
    overrides = {"threads": args.threads, "max_side": args.max_side, "bin_table": args.bin_table}
    return RecognizerSettings.model_validate({**base.model_dump(),
                                              **{k: v for k, v in overrides.items() if v is not None}})


def _read_file(path: Path) -> bytes | BankCardResponse:
    """The file's bytes, or the failure answer that says why it cannot be read (an empty file included)."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return BankCardResponse.failure(codes.IMAGE_EMPTY, f"no such file: {path}")
    except IsADirectoryError:
        return BankCardResponse.failure(codes.IMAGE_EMPTY, f"is a directory, not an image file: {path}")
    except OSError as exc:
        return BankCardResponse.failure(codes.IMAGE_DECODE_FAILED,
                                        f"cannot read {path}: {exc.strerror or exc}")
    return content or BankCardResponse.failure(codes.IMAGE_EMPTY, EMPTY_IMAGE, session_id=uuid.uuid4().hex)


def run(args: argparse.Namespace) -> int:
    """Recognize every image and print its answer; 0 when all succeeded, 1 otherwise."""
    try:
        settings = _settings(args)
        if settings.bin_table is not None:
            BinTable.from_unionpay_csv(settings.bin_table)  # a bad table is refused up front, not at the first image
    except (ValueError, CardpipeError) as exc:
        print(f"cardpipe recognize: {exc}", file=sys.stderr)
        return 2
    recognizer = None
    failed = False
    for name in args.images:
        content = _read_file(Path(name))
        if isinstance(content, BankCardResponse):
            answer = content
        else:
            if recognizer is None:
                from worker.recognizer.service import get_recognizer  # the models' imports, paid only now

                try:
                    recognizer = get_recognizer(settings)
                except (ValueError, CardpipeError) as exc:
                    print(f"cardpipe recognize: {exc}", file=sys.stderr)
                    return 2
            answer = recognizer.recognize(content)
        failed = failed or not answer.ok
        print(json.dumps(answer.to_wire(), ensure_ascii=False, indent=2 if args.pretty else None), flush=True)
    return 1 if failed else 0
