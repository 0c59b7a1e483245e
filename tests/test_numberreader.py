"""The card-number head: loaded beside the recogniser, reading number lines, voting in the reader."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.generated_cards import labelled_crop
from worker.recognizer.engine import OcrEngine
from worker.recognizer.numberreader import BACKBONE_OUTPUT, CHARSET, recogniser_with_features
from worker.recognizer.reader import REREAD_MIN_HEIGHT, read_card
from worker.recognizer.sessions import REC_MODEL

ROOT = Path(__file__).resolve().parent.parent
SEED = 47


@pytest.fixture(scope="module")
def moderate_cards(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from scripts.make_cards import generate

    folder = tmp_path_factory.mktemp("number-lines")
    return [{**label, "path": folder / label["file"]} for label in generate(folder, 4, "moderate", SEED)]


def test_charset_is_the_one_rapidocr_builds_for_the_recogniser(engine: OcrEngine) -> None:
    from rapidocr import RapidOCR

    rapid = RapidOCR(params={"Global.log_level": "error", "Rec.model_path": str(REC_MODEL)})
    rapid._load_rec_model()
    assert engine.charset == list(rapid.text_rec.postprocess_op.character)


def test_the_head_reads_number_lines_of_generated_cards(engine: OcrEngine,
                                                        moderate_cards: list[dict[str, Any]]) -> None:
    for label in moderate_cards:
        crop = labelled_crop(label["path"], label, "number_quad", 0.5, REREAD_MIN_HEIGHT)
        read = engine.read([crop], number=True)[0]
        assert read.number is not None
        assert set(read.number.text) <= set(CHARSET[1:])
        assert read.number.text.replace(" ", "") == label["number"], json.dumps(label["printed"])


def test_plain_reads_skip_the_head(engine: OcrEngine) -> None:
    line = np.full((48, 200, 3), 255, dtype=np.uint8)
    assert engine.read([line])[0].number is None


def test_the_head_votes_for_the_number(engine: OcrEngine, moderate_cards: list[dict[str, Any]]) -> None:
    label = moderate_cards[0]
    image = cv2.imread(str(label["path"]), cv2.IMREAD_COLOR)
    reading = read_card(engine, image, scale=1.0, original_size=(image.shape[1], image.shape[0]),
                        acceptable=lambda number: number == label["number"])
    assert reading.number is not None and reading.number.number == label["number"]
    assert any(c.source.endswith(":head") for c in reading.number.support)


def test_a_recogniser_without_the_backbone_tensor_is_refused(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="not the recogniser"):
        recogniser_with_features(path)


def test_the_appended_output_is_the_graph_an_onnx_edit_gives() -> None:
    import onnx

    edited = onnx.load(str(REC_MODEL))
    edited.graph.output.append(onnx.helper.make_tensor_value_info(BACKBONE_OUTPUT, onnx.TensorProto.FLOAT, None))
    appended = onnx.load_from_string(recogniser_with_features(REC_MODEL))
    assert list(appended.graph.output) == list(edited.graph.output)
    assert appended.graph.output[-1].name == BACKBONE_OUTPUT
    assert appended == edited


def test_each_named_tensor_is_appended_in_order() -> None:
    """Training caches the last backbone block's input as well as the backbone's output."""
    import onnx

    from scripts.train.number_reader import LAST_BLOCK_INPUT

    edited = onnx.load(str(REC_MODEL))
    for tensor in (LAST_BLOCK_INPUT, BACKBONE_OUTPUT):
        edited.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    assert onnx.load_from_string(recogniser_with_features(REC_MODEL, LAST_BLOCK_INPUT, BACKBONE_OUTPUT)) == edited


def test_the_engine_reads_the_backbone_features_from_the_appended_output(engine: OcrEngine) -> None:
    line = np.full((48, 320, 3), 255, dtype=np.uint8)
    cv2.putText(line, "6225 7600", (8, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    read = engine.read([line], number=True)[0]
    assert read.number is not None and read.number.text.replace(" ", "").startswith("6225")
