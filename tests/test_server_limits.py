"""The server's capacity limits over real HTTP: a full recognition pool and the per-appid rate answer 15
quickly instead of queueing, and the server recovers once the load is gone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.test_server_harness import (
    OTHER_APPID,
    OTHER_SECRET_ID,
    OTHER_SECRET_KEY,
    answer_of,
    authorization,
    png_bytes,
    raw_post,
    serving,
    shared_recognizer,
)
from worker.api.legacy import codes
from worker.api.legacy.schema import BankCardResponse
from worker.api.server.settings import ServeSettings


class GatedRecognizer:
    """The real recognizer, held at a gate: a recognition starts only when the test opens the gate, so a
    "slow request" is slow for exactly as long as the test needs, on any machine."""

    def __init__(self, recognizer: Any) -> None:
        self._recognizer = recognizer
        self.entered = threading.Event()
        self.gate = threading.Event()

    def recognize(self, data: bytes, *, session_id: str | None = None) -> BankCardResponse:
        self.entered.set()
        if not self.gate.wait(timeout=60):
            raise TimeoutError("the test never opened the gate")
        return self._recognizer.recognize(data, session_id=session_id)


def test_full_pool_answers_15_and_recovers() -> None:
    gated = GatedRecognizer(shared_recognizer())
    settings = ServeSettings(pool_size=1, queue_timeout_s=0.05, rate_per_appid=1000, burst_per_appid=1000)
    with serving(settings, recognizer=gated) as server, ThreadPoolExecutor(max_workers=1) as background:
        slow = background.submit(server.post_images, [b""], auth=authorization())
        assert gated.entered.wait(timeout=30), "the first request never reached the recognizer"
        refused = answer_of(server.post_images([png_bytes()], auth=authorization()))
        assert refused.code == codes.RATE_LIMITED
        assert "busy" in refused.message
        assert server.healthy()  # the event loop still answers while the pool is full
        gated.gate.set()
        assert answer_of(slow.result(timeout=60)).code == codes.IMAGE_EMPTY
        assert answer_of(server.post_images([b""], auth=authorization())).code == codes.IMAGE_EMPTY


def test_waiting_within_queue_timeout_gets_a_slot() -> None:
    gated = GatedRecognizer(shared_recognizer())
    settings = ServeSettings(pool_size=1, queue_timeout_s=30.0, rate_per_appid=1000, burst_per_appid=1000)
    with serving(settings, recognizer=gated) as server, ThreadPoolExecutor(max_workers=2) as background:
        first = background.submit(server.post_images, [b""], auth=authorization())
        assert gated.entered.wait(timeout=30)
        second = background.submit(server.post_images, [b""], auth=authorization())
        gated.gate.set()
        assert answer_of(first.result(timeout=60)).code == codes.IMAGE_EMPTY
        assert answer_of(second.result(timeout=60)).code == codes.IMAGE_EMPTY


def test_per_appid_rate_limit_answers_15_for_that_appid_only() -> None:
    settings = ServeSettings(rate_per_appid=0.001, burst_per_appid=2)
    with serving(settings) as server:
        answers = [answer_of(server.post_images([b""], auth=authorization())).code for _ in range(3)]
        assert answers == [codes.IMAGE_EMPTY, codes.IMAGE_EMPTY, codes.RATE_LIMITED]
        other = authorization(OTHER_APPID, OTHER_SECRET_ID, OTHER_SECRET_KEY)
        assert answer_of(server.post_images([b""], auth=other, appid=OTHER_APPID)).code == codes.IMAGE_EMPTY
        assert server.healthy()


def test_requests_failing_authentication_spend_no_tokens() -> None:
    settings = ServeSettings(rate_per_appid=0.001, burst_per_appid=1)
    with serving(settings) as server:
        for _ in range(3):
            bad = authorization(secret_key="wrong")
            assert answer_of(server.post_images([b""], auth=bad)).code == codes.SIGNATURE_FAILED
        assert answer_of(server.post_images([b""], auth=authorization())).code == codes.IMAGE_EMPTY


def test_requests_past_max_pending_answer_15_before_reading_their_body() -> None:
    gated = GatedRecognizer(shared_recognizer())
    settings = ServeSettings(max_pending_requests=1, queue_timeout_s=30.0)
    with serving(settings, recognizer=gated) as server, ThreadPoolExecutor(max_workers=1) as background:
        held = background.submit(server.post_images, [b""], auth=authorization())
        assert gated.entered.wait(timeout=30)
        refused = answer_of(server.post_images([png_bytes()], auth=authorization()))
        assert refused.code == codes.RATE_LIMITED and "in progress" in refused.message
        gated.gate.set()
        assert answer_of(held.result(timeout=60)).code == codes.IMAGE_EMPTY


def test_a_stalled_body_is_answered_408_code_3() -> None:
    with serving(ServeSettings(body_timeout_s=0.5)) as server:
        head, body = raw_post(server, "Content-Type: application/json\r\nContent-Length: 100\r\n", '{"appid":')
        assert head.startswith(b"HTTP/1.1 408")
        assert body["code"] == codes.BAD_REQUEST
        assert server.healthy()
