"""kombu's Redis transport with one Redis client per channel, and messages taken and acked several at a time.

Why a client per channel: kombu's Redis channel builds a new ``redis.Redis`` object (its option parsing and
response-callback tables) for every ack and every delivery bookkeeping step; measured, that was about a tenth
of a worker's CPU per message on Redis. A ``redis.Redis`` is thread-safe and draws connections from the
channel's pool either way, so the channel keeps one.

Why group acks: kombu acks a message by removing its tag from the unacked index and hash in a MULTI/EXEC of
its own; ZREM and HDEL take any number of members, so :meth:`Channel.ack_messages` removes several tags in one
MULTI/EXEC (the same two commands, the same atomicity) and then does kombu's in-memory bookkeeping for each.

Why batched fetches: kombu takes one message per BRPOP and records each delivery in the unacked index and hash
in a MULTI/EXEC of its own, two round trips per message on the drain thread; each one releases and retakes
the GIL, which the worker threads contend for. When the BRPOP returns a message and the prefetch window has
more room, :meth:`Channel._brpop_read` takes up to :data:`FETCH_BATCH` - 1 more from the same list with one
``RPOP key count`` and records every delivery of the batch in one MULTI/EXEC, before any of them can be acked
(acks go out on the same thread, after this returns). A crash between the pop and the recording loses the
popped messages, as it does in kombu between its BRPOP and its MULTI/EXEC; the window is the same round trip,
now covering up to a batch. Everything else is kombu's transport unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from queue import Empty
from time import time
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

#: The most messages one fetch takes from a list (a BRPOP, then one RPOP with a count), within the prefetch window.
FETCH_BATCH = 16


class QoS(kombu_redis.QoS):
    _recording: list[tuple[str, str]] | None = None

    def append(self, message: Any, delivery_tag: str) -> None:
        """Record a delivery as unacked: at once (kombu's MULTI/EXEC), or inside :meth:`recording_together`
        with the rest of its batch."""
        if self._recording is None:
            super().append(message, delivery_tag)
            return
        delivery = message.delivery_info
        self._recording.append((delivery_tag, dumps([message._raw, delivery["exchange"], delivery["routing_key"]])))
        virtual.QoS.append(self, message, delivery_tag)

    @contextmanager
    def recording_together(self) -> Iterator[None]:
        """Deliveries made inside are recorded as unacked in one MULTI/EXEC when it ends (ZADD and HSET of all,
        as kombu's append does for one)."""
        self._recording = []
        try:
            yield
        finally:
            recorded, self._recording = self._recording, None
            if recorded:
                now = time()
                with self.pipe_or_acquire() as pipe:
                    pipe.zadd(self.unacked_index_key, {tag: now for tag, _ in recorded}) \
                        .hset(self.unacked_key, mapping=dict(recorded)) \
                        .execute()

    def ack_many(self, delivery_tags: Sequence[str]) -> None:
        """Ack ``delivery_tags`` together: one MULTI/EXEC for all, instead of one per tag."""
        if not delivery_tags:
            return
        with self.pipe_or_acquire() as pipe:
            pipe.zrem(self.unacked_index_key, *delivery_tags).hdel(self.unacked_key, *delivery_tags).execute()
        for tag in delivery_tags:
            virtual.QoS.ack(self, tag)  # the in-memory part of kombu's ack (its Redis part is done above)


class Channel(kombu_redis.Channel):
    QoS = QoS
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        if self._shared_client is None:
            self._shared_client = super()._create_client()
        return self._shared_client

    def _brpop_read(self, **options: Any) -> bool:
        """kombu's BRPOP reply handling, then up to a batch more from the same list (see the module docstring)."""
        try:
            try:
                key_item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                self.client.connection.disconnect()  # the next poll reconnects
                raise
            if not key_item:
                raise Empty()
            key, item = bytes_to_str(key_item[0]), key_item[1]
            queue = key.rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            more = self._take_more(key)
            with self.qos.recording_together():
                self.connection._deliver(loads(bytes_to_str(item)), queue)
                for raw in more:
                    self.connection._deliver(loads(bytes_to_str(raw)), queue)
            return True
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def _take_more(self, key: str) -> list[Any]:
        """Up to a batch less one more messages from list ``key``, as many as the prefetch window has room for
        beside the one just popped; none with a global key prefix (the popped key already carries it)."""
        room = self.qos.can_consume_max_estimate()
        wanted = min(FETCH_BATCH, FETCH_BATCH if room is None else room) - 1
        if wanted <= 0 or self.global_keyprefix or not hasattr(self.qos, "recording_together"):
            return []
        with self.conn_or_acquire() as client:
            return client.rpop(key, wanted) or []

    def ack_messages(self, messages: Sequence[Any]) -> None:
        """Ack kombu ``messages`` of this channel in one round trip (each as ``message.ack()`` would)."""
        ack_many = getattr(self.qos, "ack_many", None)
        if ack_many is None:  # ack emulation off: kombu's plain QoS, nothing to remove from Redis
            for message in messages:
                message.ack()
            return
        pending = [message for message in messages if not message.acknowledged]
        ack_many([message.delivery_tag for message in pending])
        for message in pending:
            message._state = "ACK"  # what kombu's Message.ack records after its basic_ack


class Transport(kombu_redis.Transport):
    Channel = Channel
