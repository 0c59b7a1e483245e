"""Real recognitions through the server: generated cards in multipart and url mode answer exactly what the
in-process recognizer answers, in the seed's format, and the request log never shows the card number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from tests.test_server_harness import (
    APPID,
    BUCKET,
    Server,
    answer_of,
    authorization,
    generated_cards,
    serving,
    shared_recognizer,
    static_site,
)
from worker.api.legacy.schema import FIELD_ORDER, BankCardResponse
from worker.api.server.settings import ServeSettings
from worker.observability import configure_logging

CARD_COUNT = 2


@pytest.fixture(scope="module")
def cards() -> tuple[tuple[bytes, dict[str, Any]], ...]:
    return generated_cards(CARD_COUNT)


@pytest.fixture(scope="module")
def in_process(cards: tuple[tuple[bytes, dict[str, Any]], ...]) -> list[BankCardResponse]:
    """What the recognizer answers for each card without HTTP in between."""
    return [shared_recognizer().recognize(data) for data, _label in cards]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving(ServeSettings(allow_private_urls=True)) as running_server:
        yield running_server


def _without_session(answer: BankCardResponse) -> dict[str, Any]:
    wire = answer.to_wire()
    wire["data"]["session_id"] = ""
    return wire


def test_the_generated_cards_are_read(in_process: list[BankCardResponse],
                                      cards: tuple[tuple[bytes, dict[str, Any]], ...]) -> None:
    """The comparison below is meaningful only if the recognizer reads these cards."""
    read = [answer.value("卡号") == label["number"] for answer, (_data, label) in zip(in_process, cards, strict=True)]
    assert any(read), [a.to_wire() for a in in_process]


def test_multipart_answers_what_the_recognizer_answers(server: Server, cards, in_process) -> None:  # type: ignore[no-untyped-def]
    data, _label = cards[0]
    response = server.post_images([data], auth=authorization())
    assert response.status_code == 200
    answer = answer_of(response)
    assert _without_session(answer) == _without_session(in_process[0])
    if answer.ok:
        assert [item.item for item in answer.data.items] == list(FIELD_ORDER)
        assert answer.data.session_id


def test_url_mode_answers_what_the_recognizer_answers(server: Server, cards, in_process) -> None:  # type: ignore[no-untyped-def]
    data, label = cards[1]
    with static_site({f"/{label['file']}": data}) as site:
        response = server.post_json({"appid": APPID, "bucket": BUCKET, "url": f"{site}/{label['file']}"},
                                    auth=authorization())
    assert _without_session(answer_of(response)) == _without_session(in_process[1])


def test_several_cards_answer_an_array_in_order(server: Server, cards, in_process) -> None:  # type: ignore[no-untyped-def]
    response = server.post_images([data for data, _label in cards], auth=authorization())
    documents = response.json()
    assert isinstance(documents, list) and len(documents) == CARD_COUNT
    got = [_without_session(BankCardResponse.model_validate(d)) for d in documents]
    assert got == [_without_session(a) for a in in_process]


def test_the_log_line_never_shows_the_card_number(server: Server, cards, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    data, label = cards[0]
    configure_logging("INFO", json=True)
    try:
        server.post_images([data], auth=authorization())
        logged = capsys.readouterr().err
    finally:
        structlog.reset_defaults()  # the configuration above writes to this test's captured stream
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    request_lines = [line for line in lines if line.get("event") == "ocr_request"]
    assert len(request_lines) == 1
    assert request_lines[0]["appid"] == APPID and request_lines[0]["bytes"] > len(data)
    assert label["number"] not in logged
