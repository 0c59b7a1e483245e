"""What a queue message asks for: the tasks in it, or nothing (an event naming no new object), or a BadMessage.

Shared by the pipeline (which processes the message) and by the queue housekeeping that asks whether
processing a message again would do anything (:func:`has_outcome`).
"""

from __future__ import annotations

import json
from typing import Any

from worker.outcomes import OutcomeStore
from worker.tasks import BadMessage, Task, body_id, is_event, tasks_from_event

#: The largest message read as a task; a larger one is a ``bad_message`` (a task is well under 1 KB).
MAX_MESSAGE_BYTES = 256 * 1024


def body_bytes(body: bytes | str | dict[str, Any]) -> bytes:
    """The message as bytes, as its dead letter keys it (a dict body: its canonical JSON)."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", "replace")
    return json.dumps(body, sort_keys=True, default=str).encode("utf-8")


def read_message(body: bytes | str | dict[str, Any], raw_bytes: bytes) -> list[Task] | None:
    """The tasks a message asks for (None: an event asking for nothing); BadMessage when it is not one."""
    if len(raw_bytes) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"the message is {len(raw_bytes)} bytes long (a task is at most {MAX_MESSAGE_BYTES})")
    try:
        parsed = body if isinstance(body, dict) else json.loads(raw_bytes)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadMessage(f"not JSON: {str(exc)[:200]}") from None
    if isinstance(parsed, dict) and is_event(parsed):
        return tasks_from_event(parsed) or None
    return [Task.from_json(parsed if isinstance(parsed, dict) else raw_bytes)]


def has_outcome(outcomes: OutcomeStore, body: bytes | str | dict[str, Any]) -> bool:
    """Whether processing the message ``body`` again would do nothing: every task it asks for has an outcome.

    Keyed as :meth:`Pipeline.process_message` keys what it writes: by task id, or, for a message that is not
    a task (``bad_message``, an unreadable ``internal_error``), by a hash of its bytes. An event that names
    no new object needs nothing.
    """
    raw_bytes = body_bytes(body)
    if outcomes.exists(body_id(raw_bytes)):
        return True
    try:
        tasks = read_message(body, raw_bytes)
    except Exception:  # not a task: settled only by its dead letter, looked up above
        return False
    return tasks is None or all(outcomes.exists(task.id) for task in tasks)
