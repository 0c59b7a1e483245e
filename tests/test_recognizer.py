"""The recognizer end to end: generated cards with fixed seeds, every orientation, bad inputs, threads, CLI.

The engine loads once per test session; the card set is small so the suite stays fast.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.images import png_header_only
from worker.api.legacy import codes
from worker.api.legacy.schema import FIELD_ORDER, BankCardResponse
from worker.recognizer import Recognizer, RecognizerSettings, get_recognizer
from worker.recognizer.bins import default_table

ROOT = Path(__file__).resolve().parent.parent
SEED = 31
CLEAN_CARDS = 4
MODERATE_CARDS = 2


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    return get_recognizer(RecognizerSettings(threads=2))


@pytest.fixture(scope="session")
def cards(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """A few generated cards (fixed seed) with their labels; ``path`` added to each label."""
    sys.path.insert(0, str(ROOT))
    from scripts.make_cards import generate

    found = []
    for level, count in (("clean", CLEAN_CARDS), ("moderate", MODERATE_CARDS)):
        folder = tmp_path_factory.mktemp(f"cards-{level}")
        for label in generate(folder, count, level, SEED):
            found.append({**label, "path": folder / label["file"]})
    return found


def expiry_of(label: dict[str, Any]) -> str:
    raw = label["expiry"]
    return f"{raw[:2]}/20{raw[3:]}" if raw else ""




def encoded(image: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def assert_shape(answer: BankCardResponse, size: tuple[int, int]) -> None:
    assert answer.code == 0 and answer.message == "OK"
    assert [item.item for item in answer.data.items] == list(FIELD_ORDER)
    for item in answer.data.items:
        assert 0.0 <= item.itemconf <= 1.0
        box = item.itemcoord
        assert box.x >= 0 and box.y >= 0
        assert box.x + box.width <= size[0] and box.y + box.height <= size[1]
        if item.itemstring:
            assert item.itemconf > 0 and box.width > 0 and box.height > 0
        else:
            assert item.itemconf == 0.0
        assert item.coords == [] and item.words == [] and item.candword == []


def test_generated_cards_are_read_exactly(recognizer: Recognizer, cards: list[dict[str, Any]]) -> None:
    """Every number exact; expiry exact on all but at most one card (the benchmark measures ~95-100%)."""
    table = default_table()
    expiry_misses = []
    for label in cards:
        data = label["path"].read_bytes()
        answer = recognizer.recognize(data)
        assert answer.code == 0, (label["file"], answer.message)
        assert answer.value("卡号") == label["number"], label["file"]
        if answer.value("有效期") != expiry_of(label):
            expiry_misses.append((label["file"], answer.value("有效期"), expiry_of(label)))
        record = table.lookup(label["number"])
        assert record is not None
        assert answer.value("银行信息") == record.bank_info
        assert answer.value("卡类型") == record.card_kind
        assert answer.value("卡名字") == record.card_name
        assert_shape(answer, Image.open(label["path"]).size)
    assert len(expiry_misses) <= 1, expiry_misses


def test_the_number_box_is_where_the_number_is_printed(recognizer: Recognizer, cards: list[dict[str, Any]]) -> None:
    label = cards[0]
    box = recognizer.recognize(label["path"].read_bytes()).field("卡号").itemcoord  # type: ignore[union-attr]
    truth = np.array(label["number_quad"])
    centre_x, centre_y = box.x + box.width / 2, box.y + box.height / 2
    assert truth[:, 0].min() <= centre_x <= truth[:, 0].max()
    assert truth[:, 1].min() <= centre_y <= truth[:, 1].max()
    assert box.width >= 0.8 * (truth[:, 0].max() - truth[:, 0].min())


def test_the_number_band_of_the_cards_outline_is_read_by_both_readers(recognizer: Recognizer,
                                                                       cards: list[dict[str, Any]]) -> None:
    """The last resort (no detected line held the number): strips of the straightened card's number band,
    read by the general recogniser and by the card-number head, vote like any other reads."""
    from worker.recognizer.cardframe import find_card_quad
    from worker.recognizer.geometry import View
    from worker.recognizer.imageio import decode_image
    from worker.recognizer.numberband import read_number_band

    label = cards[0]
    image = decode_image(label["path"].read_bytes(), max_side=recognizer.settings.max_side,
                         max_pixels=recognizer.settings.max_pixels)
    view = View.of(np.ascontiguousarray(image.pixels[:, :, ::-1]), quarter_turns=0, scale=image.scale,
                   original_size=image.original_size)
    answer = read_number_band(recognizer.engine, view, find_card_quad(view.image), recognizer.acceptable, [], [])
    assert answer is not None
    assert answer.decision.number == label["number"]
    sources = {c.source for c in answer.decision.support}
    assert any(source.endswith(":head") for source in sources), sources
    assert any(not source.endswith(":head") for source in sources), sources


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_card_photographed_sideways_or_upside_down(recognizer: Recognizer, cards: list[dict[str, Any]],
                                                     degrees: int) -> None:
    label = cards[0]
    turned = Image.open(label["path"]).convert("RGB").rotate(degrees, expand=True)
    answer = recognizer.recognize(encoded(turned, "JPEG", quality=92))
    assert answer.code == 0, answer.message
    assert answer.value("卡号") == label["number"]
    assert_shape(answer, turned.size)


def test_exif_rotated_photo_reports_boxes_in_the_displayed_image(recognizer: Recognizer,
                                                                 cards: list[dict[str, Any]]) -> None:
    label = cards[1]
    upright = Image.open(label["path"]).convert("RGB")
    stored = upright.rotate(90, expand=True)  # stored sideways; EXIF 8 says "turn 90 clockwise to display"
    exif = Image.Exif()
    exif[0x0112] = 8
    answer = recognizer.recognize(encoded(stored, "JPEG", quality=92, exif=exif.tobytes()))
    assert answer.value("卡号") == label["number"]
    assert_shape(answer, upright.size)


def test_session_id_is_echoed_or_fresh(recognizer: Recognizer, cards: list[dict[str, Any]]) -> None:
    data = cards[0]["path"].read_bytes()
    assert recognizer.recognize(data, session_id="s-42").data.session_id == "s-42"
    first, second = recognizer.recognize(b"").data.session_id, recognizer.recognize(b"").data.session_id
    assert first and second and first != second


def test_concurrent_calls_agree_with_sequential_ones(recognizer: Recognizer, cards: list[dict[str, Any]]) -> None:
    images = [label["path"].read_bytes() for label in cards[:3]]
    sequential = [recognizer.recognize(data).to_wire()["data"]["items"] for data in images]
    with ThreadPoolExecutor(max_workers=3) as pool:
        concurrent = list(pool.map(lambda data: recognizer.recognize(data).to_wire()["data"]["items"], images * 2))
    assert concurrent == sequential * 2


def _no_card_photo() -> bytes:
    rng = np.random.default_rng(5)
    smooth = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    return encoded(Image.fromarray(smooth).resize((960, 720), Image.Resampling.BICUBIC), "JPEG")


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (300, 200), colour) for colour in ("navy", "gold")]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


@pytest.mark.parametrize(("name", "make", "code"), [
    ("empty", lambda: b"", codes.IMAGE_EMPTY),
    ("text file", lambda: b"card number: 6225 7600 0000 0005\n", codes.IMAGE_DECODE_FAILED),
    ("corrupt jpeg", lambda: b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, codes.IMAGE_DECODE_FAILED),
    ("animated gif", _animated_gif, codes.IMAGE_DECODE_FAILED),
    ("1x1 image", lambda: encoded(Image.new("RGB", (1, 1), "white")), codes.PREPROCESS_ERROR),
    ("20000x20000 image", lambda: png_header_only(20000, 20000), codes.IMAGE_DECODE_FAILED),
    ("photo with no card", _no_card_photo, codes.RECOGNITION_FAILED),
])
def test_bad_input_answers_its_code_with_a_reason(recognizer: Recognizer, name: str, make: Any, code: int) -> None:
    answer = recognizer.recognize(make())
    assert answer.code == code, (name, answer.message)
    assert answer.message and answer.message != "OK"
    assert answer.data.items == []
    assert answer.data.session_id


def test_get_recognizer_is_process_wide(recognizer: Recognizer) -> None:
    assert get_recognizer(RecognizerSettings(threads=2)) is recognizer
    assert get_recognizer() is get_recognizer()


def test_settings_refuse_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        RecognizerSettings(thread=2)  # type: ignore[call-arg]


def test_cli_prints_one_document_per_image_and_fails_on_any_failure(cards: list[dict[str, Any]],
                                                                    tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an image", encoding="utf-8")
    missing = tmp_path / "missing.jpg"
    done = subprocess.run(
        [sys.executable, "-m", "worker", "--log-level", "ERROR", "recognize", "--threads", "2",
         str(cards[0]["path"]), str(missing), str(text_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 1, done.stderr
    documents = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["code"] for d in documents] == [0, codes.IMAGE_EMPTY, codes.IMAGE_DECODE_FAILED]
    assert documents[0]["data"]["items"][0]["itemstring"] == cards[0]["number"]
    assert "missing.jpg" in documents[1]["message"]
    assert "Traceback" not in done.stderr


def test_cli_pretty_output_and_success_exit_code(cards: list[dict[str, Any]]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "--log-level", "ERROR", "recognize", "--pretty", str(cards[0]["path"])],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["code"] == 0
    assert "\n  " in done.stdout and "卡号" in done.stdout  # indented, and not ASCII-escaped


def test_cli_refuses_an_unreadable_bin_table_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "unionpay.csv"
    done = subprocess.run(
        [sys.executable, "-m", "worker", "--log-level", "ERROR", "recognize", "--bin-table", str(missing),
         str(tmp_path / "card.jpg")],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 2
    assert "unionpay.csv" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_restricted_ctc_decode_matches_masking_every_other_class() -> None:
    """Decoding over a column subset must give what zeroing every other class gives (text, confidences,
    runner-up), since the card logic relies on the runner-up digit for confusion repair."""
    from worker.recognizer.ctc import charset_mask, ctc_decode

    rng = np.random.default_rng(7)
    charset = ["blank", *"0123456789", *"ABCDEFGHOB日/", " "]
    mask = charset_mask(charset, "0123456789")
    for _ in range(50):
        probs = rng.dirichlet(np.full(len(charset), 0.3), size=40)
        zeroed = np.where(mask[None, :], probs, 0.0)
        reference = ctc_decode(zeroed, charset)  # the whole charset over already-masked probabilities
        restricted = ctc_decode(probs, charset, allowed=mask)
        assert restricted.text == reference.text
        for got, want in zip(restricted.chars, reference.chars, strict=True):
            assert (got.conf, got.position, got.alternative_conf) == pytest.approx(
                (want.conf, want.position, want.alternative_conf))
            assert got.alternative == want.alternative or want.alternative_conf == 0.0


def test_default_threads_resolve_to_one_session_thread() -> None:
    assert RecognizerSettings().session_threads == 1
    assert RecognizerSettings(threads=3).session_threads == 3


def test_cli_answers_empty_and_missing_files_without_loading_the_models(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    probe = ("import sys, runpy; sys.argv = ['cardpipe', '--log-level', 'ERROR', 'recognize', sys.argv[1], "
             "sys.argv[2]]; import worker.cli as cli; code = cli.main(sys.argv[1:]); "
             "print('loaded:', sorted(m for m in ('onnxruntime', 'worker.recognizer.engine', 'rapidocr') "
             "if m in sys.modules)); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe, str(empty), str(tmp_path / "missing.png")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    documents = [json.loads(line) for line in lines[:2]]
    assert [d["code"] for d in documents] == [codes.IMAGE_EMPTY, codes.IMAGE_EMPTY]
    assert documents[0]["message"] == "the image is empty (0 bytes)"
    assert lines[2] == "loaded: []"
