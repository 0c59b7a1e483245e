"""The AMQP transport reads frames ahead and sets socket timeouts only when it touches the socket
(``worker/amqp_transport.py``): the same frames as py-amqp's, far fewer system calls per delivery, and a
timeout part-way through a frame or a write still behaves as py-amqp's does."""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator
from typing import Any

import kombu
import pytest
from amqp.exceptions import UnexpectedFrame

from tests.reliability import queue_settings
from worker.amqp_transport import READ_AHEAD, ReadAheadTransport
from worker.broker import connect
from worker.queues import connection


class _CountingSocket:
    """The transport's socket, counting the calls that enter the kernel (a test probe, nothing more)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.recv_calls = 0
        self.settimeout_calls = 0

    def recv(self, size: int) -> bytes:
        self.recv_calls += 1
        return self._sock.recv(size)

    def settimeout(self, timeout: float | None) -> None:
        self.settimeout_calls += 1
        self._sock.settimeout(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _frame(payload: bytes, *, frame_type: int = 1, channel: int = 1, end: int = 0xCE) -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + bytes([end])


@pytest.fixture
def wired() -> Iterator[tuple[ReadAheadTransport, socket.socket]]:
    """A transport on one end of a socket pair (the other end plays the broker), as connected."""
    ours, broker = socket.socketpair()
    transport = ReadAheadTransport("127.0.0.1:5672")
    transport.sock = ours
    transport._setup_transport()
    transport.connected = True
    try:
        yield transport, broker
    finally:
        ours.close()
        broker.close()


def test_frames_are_cut_from_one_read_ahead(wired: tuple[ReadAheadTransport, socket.socket]) -> None:
    transport, broker = wired
    payloads = [b"x" * size for size in (0, 1, 7, 300, 5000)]
    broker.sendall(b"".join(_frame(p, channel=i) for i, p in enumerate(payloads)))
    probe = _CountingSocket(transport.sock)
    transport.sock, transport._quick_recv = probe, probe.recv  # type: ignore[assignment]
    got = []
    for _ in payloads:
        with transport.having_timeout(1.0):
            got.append(transport.read_frame())
    assert got == [(1, i, p) for i, p in enumerate(payloads)]
    assert probe.recv_calls == 1, "py-amqp reads each frame in at least two recv calls"
    assert probe.settimeout_calls == 2, "set and restored once, for the one read that touched the socket"


def test_a_timeout_part_way_through_a_frame_keeps_what_was_read(
        wired: tuple[ReadAheadTransport, socket.socket]) -> None:
    transport, broker = wired
    frame = _frame(b"0123456789" * 20)
    broker.sendall(frame[:3])
    with pytest.raises(socket.timeout), transport.having_timeout(0.05):
        transport.read_frame()
    broker.sendall(frame[3:50])
    with pytest.raises(socket.timeout), transport.having_timeout(0.05):
        transport.read_frame()
    assert transport.sock.gettimeout() is None, "the socket is back in blocking mode after the timeout"
    broker.sendall(frame[50:])
    with transport.having_timeout(0.05):
        assert transport.read_frame() == (1, 1, b"0123456789" * 20)


def test_a_frame_larger_than_the_read_ahead(wired: tuple[ReadAheadTransport, socket.socket]) -> None:
    transport, broker = wired
    big = bytes(range(256)) * ((3 * READ_AHEAD) // 256 + 1)
    broker.setblocking(False)
    data, sent = _frame(big) + _frame(b"next"), 0
    while sent < len(data) or len(transport._buffer) - transport._position < len(data):
        if sent < len(data):
            with contextlib.suppress(BlockingIOError):
                sent += broker.send(data[sent:sent + 65536])
        with transport.having_timeout(0.01):
            try:
                transport._fill(len(data))
            except TimeoutError:
                continue
    assert transport.read_frame() == (1, 1, big)
    assert transport.read_frame() == (1, 1, b"next")


def test_a_frame_without_its_end_octet_is_refused(wired: tuple[ReadAheadTransport, socket.socket]) -> None:
    transport, broker = wired
    broker.sendall(_frame(b"abc", end=0x00))
    with pytest.raises(UnexpectedFrame):
        transport.read_frame()


def test_a_write_under_a_timeout_still_times_out(wired: tuple[ReadAheadTransport, socket.socket]) -> None:
    """basic_publish writes under ``having_timeout``: a peer that reads nothing must not block it forever, even
    when a whole frame is already buffered for reading."""
    transport, broker = wired
    broker.sendall(_frame(b"buffered"))
    with transport.having_timeout(0.5):
        transport.read_frame()
    with pytest.raises(socket.timeout), transport.having_timeout(0.2):
        for _ in range(10_000):  # fills both socket buffers, then waits 0.2 s for room
            transport.write(b"\0" * 65536)
    assert transport.sock.gettimeout() is None


def test_a_closed_peer_is_a_lost_connection(wired: tuple[ReadAheadTransport, socket.socket]) -> None:
    transport, broker = wired
    broker.sendall(_frame(b"last")[:4])
    broker.close()
    with pytest.raises(OSError, match="closed"):
        transport.read_frame()
    assert transport.connected is False


@pytest.mark.timeout(60)
def test_deliveries_from_rabbitmq_arrive_whole_with_fewer_reads(rabbitmq_url: str, unique_name: str) -> None:
    settings = queue_settings(rabbitmq_url, unique_name, quorum=False)
    bodies = [f"{index}:".encode() + b"y" * (index * 97 % 3000) for index in range(200)]
    bodies[50] = bodies[150] = b"z" * 300_000  # more than one body frame (frame_max 128 KiB)
    queue = kombu.Queue(unique_name, durable=False, auto_delete=False)
    with connection(settings) as conn:
        connect(conn, url=settings.url, timeout_s=10)
        assert isinstance(conn.connection.transport, ReadAheadTransport)
        channel = conn.channel()
        queue(channel).declare()
        producer = kombu.Producer(channel)
        for body in bodies:
            producer.publish(body, routing_key=unique_name, serializer=None, content_type="application/data",
                             content_encoding="binary")
        got: list[bytes] = []
        transport = conn.connection.transport
        probe = _CountingSocket(transport.sock)
        transport.sock, transport._quick_recv = probe, probe.recv  # py-amqp's own reads go through _quick_recv
        consumer = kombu.Consumer(channel, queues=[queue], prefetch_count=50,
                                  on_message=lambda message: (got.append(message.body), message.ack()))
        with consumer:
            while len(got) < len(bodies):
                conn.drain_events(timeout=5)
        queue(channel).delete()
    assert got == bodies
    assert probe.recv_calls < len(bodies), f"{probe.recv_calls} recv calls for {len(bodies)} deliveries"
