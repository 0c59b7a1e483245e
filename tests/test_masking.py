"""Masking touches what can be a card number (a Luhn-valid 13-19 digit run standing alone) and nothing else."""

from __future__ import annotations

import pytest

from worker.observability import bound_text, mask_digits_in_text

VALID = "6225760000001235"          # Luhn-valid, 16 digits
INVALID = "6225760000001234"        # same length, fails Luhn: an id or a count, not a card


@pytest.mark.parametrize("text, expected", [
    (f"card {VALID} failed", "card 622576******1235 failed"),
    ("card 6225 7600 0000 1235 failed", "card 622576******1235 failed"),
    ("card 6225-7600-0000-1235 failed", "card 622576******1235 failed"),
    (f"/data/{VALID}.jpg", "/data/622576******1235.jpg"),
    (f"scan_{VALID}.jpg", "scan_622576******1235.jpg"),
    (f"卡号{VALID}", "卡号622576******1235"),
    ("4111111111111111", "411111******1111"),
    ("6222020200112233446", "622202*********3446"),         # 19 digits
])
def test_card_numbers_standing_alone_are_masked(text: str, expected: str) -> None:
    assert mask_digits_in_text(text) == expected


@pytest.mark.parametrize("text", [
    "f4ab477526000007702cb0b8af60a456",               # a hex task id: digit runs inside it stay
    f"a{VALID}b",                                             # glued to letters: part of an identifier
    f"id {INVALID}",                                          # not Luhn-valid
    "12345678901234567890123",                                # too long to be a card number
    "042125",                                                 # too short
    "0" * 32,
    "550e8400-e29b-41d4-a716-446655440000",
])
def test_ids_and_other_numbers_stay_whole(text: str) -> None:
    assert mask_digits_in_text(text) == text


def test_a_log_line_keeps_task_ids_matchable_to_outcome_files(capsys: pytest.CaptureFixture[str]) -> None:
    from worker.observability import configure_logging, get_logger

    configure_logging("INFO", log_format="json")
    task_id = "f4ab477526000007702cb0b8af60a456"
    get_logger("test").info("task.done", task_id=task_id, reason=f"could not read {VALID}")
    line = capsys.readouterr().err
    assert task_id in line and VALID not in line and "622576******1235" in line


def test_huge_values_are_truncated_with_their_full_size_noted() -> None:
    text = "x" * 100_000
    bounded = bound_text(text, 1000)
    assert len(bounded) < 1100 and "100000 chars" in bounded
    assert bound_text("short", 1000) == "short"


def test_a_huge_value_makes_a_bounded_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from worker.observability import configure_logging, get_logger

    configure_logging("INFO", log_format="json")
    location = "s3://bucket/" + "x" * 8_000_000
    get_logger("test").warning("task.bad", location=location, nested={"body": ["y" * 100_000]})
    line = capsys.readouterr().err
    assert len(line) < 20_000
    event = json.loads(line)
    assert event["location"].endswith(f"[truncated: {len(location)} chars]")


# A card number that straddles the point where a bounded text is cut: masked before the cut, its middle digits
# never show; cut first, the part before the cut is a short digit run that no longer looks like a card.
def _straddling(limit: int) -> str:
    return "x" * (limit - 10) + f" {VALID} tail"


def test_a_bounded_public_text_masks_before_it_cuts() -> None:
    from worker.observability import public_text

    text = public_text(_straddling(300), 300)
    assert VALID[:7] not in text
    assert text.startswith("x" * 290) and "characters in all" in text


def test_an_unreadable_message_excerpt_never_shows_a_cut_card_number() -> None:
    from worker.tasks import EXCERPT_CHARS, message_excerpt

    excerpt = message_excerpt(_straddling(EXCERPT_CHARS).encode())
    assert VALID[:7] not in excerpt


def test_an_api3_error_excerpt_never_shows_a_cut_card_number() -> None:
    from worker.api.v3.client import interpret
    from worker.api.v3.errors import V3Error

    with pytest.raises(V3Error) as caught:
        interpret(502, _straddling(200).encode())
    assert VALID[:7] not in str(caught.value)

