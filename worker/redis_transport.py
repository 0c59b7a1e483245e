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
the GIL, which the worker threads contend for. When the BRPOP returns a message, :meth:`Channel._brpop_read`
runs one Lua script (:data:`TAKE_AND_RECORD`) that records that message as unacked and, as far as the prefetch
window has room, pops up to :data:`FETCH_BATCH` - 1 more from the same list and records each of them too, in
one atomic step: a message leaves the list only together with its unacked record, so a worker killed at any
point of a batch leaves every message of it either queued or restorable. The one message in flight is the
BRPOP's own, between its reply and the script, the window kombu has for every message. Everything else is
kombu's transport unchanged.
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
from kombu.utils.json import loads

#: The most messages one fetch takes from a list (a BRPOP, then the script's RPOP with a count), within the
#: prefetch window.
FETCH_BATCH = 16

#: Records the BRPOP's message (ARGV[1]) as unacked as kombu's ``QoS.append`` does (ZADD of its delivery tag
#: at ARGV[3] in the index KEYS[3], HSET of ``[message, exchange, routing_key]`` in the hash KEYS[2]), then pops
#: up to ARGV[2] more from the list KEYS[1] and records each the same way; the message text is stored as it
#: came, never re-encoded. A message it cannot read (not kombu's JSON envelope) stops the batch: it and the rest
#: go back to the list's tail in their order, for kombu's own handling on the next BRPOP. Returns
#: ``{first recorded (1 or 0), popped message, ...}``.
TAKE_AND_RECORD = """
local function record(item)
  local ok, message = pcall(cjson.decode, item)
  if not ok or type(message) ~= 'table' or type(message['properties']) ~= 'table' then return false end
  local properties = message['properties']
  local tag, info = properties['delivery_tag'], properties['delivery_info']
  if type(tag) ~= 'string' or type(info) ~= 'table' then return false end
  local exchange, routing_key = info['exchange'], info['routing_key']
  if type(exchange) ~= 'string' or type(routing_key) ~= 'string' then return false end
  redis.call('ZADD', KEYS[3], ARGV[3], tag)
  local entry = '[' .. item .. ',' .. cjson.encode(exchange) .. ',' .. cjson.encode(routing_key) .. ']'
  redis.call('HSET', KEYS[2], tag, entry)
  return true
end
local result = {record(ARGV[1]) and 1 or 0}
local wanted = tonumber(ARGV[2])
if wanted > 0 then
  local items = redis.call('RPOP', KEYS[1], wanted)
  if items then
    for index, item in ipairs(items) do
      if not record(item) then
        for back = #items, index, -1 do redis.call('RPUSH', KEYS[1], items[back]) end
        break
      end
      result[#result + 1] = item
    end
  end
end
return result
"""


class QoS(kombu_redis.QoS):
    _recorded: frozenset[str] = frozenset()

    def append(self, message: Any, delivery_tag: str) -> None:
        """Record a delivery as unacked: in Redis with kombu's MULTI/EXEC, unless the fetch's script already
        did (inside :meth:`recorded_already`); in memory always."""
        if delivery_tag in self._recorded:
            virtual.QoS.append(self, message, delivery_tag)
            return
        super().append(message, delivery_tag)

    @contextmanager
    def recorded_already(self, delivery_tags: frozenset[str]) -> Iterator[None]:
        """Deliveries of ``delivery_tags`` made inside are not recorded in Redis again (the script did)."""
        self._recorded = delivery_tags
        try:
            yield
        finally:
            self._recorded = frozenset()

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
    _take_and_record_script: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        if self._shared_client is None:
            self._shared_client = super()._create_client()
        return self._shared_client

    def _brpop_read(self, **options: Any) -> bool:
        """kombu's BRPOP reply handling, the delivery recorded together with up to a batch more from the same
        list by one script (see the module docstring)."""
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
            first_recorded, more = self._take_and_record(key, item)
            messages = [loads(bytes_to_str(raw)) for raw in [item, *more]]
            recorded = frozenset(message["properties"]["delivery_tag"] for message in messages[1:])
            if first_recorded:
                recorded |= {messages[0]["properties"]["delivery_tag"]}
            with self.qos.recorded_already(recorded):
                for message in messages:
                    self.connection._deliver(message, queue)
            return True
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def _take_and_record(self, key: str, item: bytes) -> tuple[bool, list[bytes]]:
        """Record ``item`` as unacked and take up to a batch less one more messages from list ``key``, as many
        as the prefetch window has room for beside ``item``, each recorded too, in one atomic script. Returns
        whether ``item`` was recorded, and the messages taken. With a global key prefix (kombu prefixes each
        command's keys its own way) or kombu's plain QoS, nothing is taken and kombu records ``item``."""
        if self.global_keyprefix or not hasattr(self.qos, "recorded_already"):
            return False, []
        room = self.qos.can_consume_max_estimate()
        wanted = max(min(FETCH_BATCH, FETCH_BATCH if room is None else room) - 1, 0)
        if self._take_and_record_script is None:
            self._take_and_record_script = self.client.register_script(TAKE_AND_RECORD)
        with self.conn_or_acquire() as client:
            reply = self._take_and_record_script(keys=[key, self.unacked_key, self.unacked_index_key],
                                                 args=[item, wanted, time()], client=client)
        return bool(reply[0]), list(reply[1:])

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
