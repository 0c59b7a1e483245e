"""kombu's py-amqp transport, reading the socket ahead and setting its timeout only when the socket is used.

Why: py-amqp reads each frame with exactly-sized ``recv`` calls (the 7-byte header, then the payload and its
end octet), and every ``drain_events(timeout=...)`` switches the socket into timeout mode and back (an
``ioctl`` each way), with a ``poll`` before each ``recv``. A delivery is three frames, so a worker's drain
thread made ~6 ``recv``, ~6 ``poll`` and 2 ``ioctl`` calls per message (measured with ``strace -c``). Each
of them releases and retakes the GIL that the worker threads contend for, and on a busy worker every release
is a hand-off between threads. Here one ``recv`` takes up to :data:`READ_AHEAD` bytes (the broker sends a
prefetch window's deliveries back to back), frames are cut from that buffer, and a timeout asked for with
:meth:`Transport.having_timeout` is applied to the socket only when a read or write actually has to touch
it: a frame already in the buffer costs no system call at all.

What does not change: frames are parsed exactly as py-amqp parses them (header, payload, frame-end octet
0xCE, else :class:`amqp.exceptions.UnexpectedFrame`); a timeout in the middle of a frame leaves the bytes read
so far buffered for the next read; a write under ``having_timeout`` (``basic_publish``) still runs with the
timeout; an error other than a would-block marks the connection lost. TLS (``amqps://``) uses py-amqp's
own transport unchanged.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from struct import unpack_from
from typing import Any

import amqp.transport
from amqp.exceptions import UnexpectedFrame
from kombu.transport import pyamqp

#: The most bytes one ``recv`` takes: a prefetch window of deliveries (each ~0.3-1 KB of frames) in one call.
READ_AHEAD = 64 * 1024
#: The octet that ends every AMQP frame.
FRAME_END = 0xCE
#: Errors that mean "no data now", not a lost connection (as py-amqp counts them).
_WOULD_BLOCK = {errno.EAGAIN, errno.EINTR, errno.ENOENT, errno.EWOULDBLOCK}
_UNSET: Any = object()


class ReadAheadTransport(amqp.transport.TCPTransport):
    """py-amqp's TCP transport with a read-ahead buffer and lazily applied timeouts (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._buffer = bytearray()
        self._position = 0
        self._pending_timeout: float | None = None
        self._restore_timeout: Any = _UNSET

    def _setup_transport(self) -> None:
        super()._setup_transport()
        self._buffer = bytearray()
        self._position = 0

    # --- timeouts -----------------------------------------------------------------------------------------

    @contextmanager
    def having_timeout(self, timeout: float | None) -> Iterator[socket.socket]:
        """Run the block with ``timeout`` on the socket's reads and writes, set only if the block uses it."""
        if timeout is None:
            yield self.sock
            return
        self._pending_timeout = timeout
        try:
            yield self.sock
        except OSError as exc:
            if exc.errno == errno.EWOULDBLOCK:
                raise TimeoutError() from exc
            raise
        finally:
            self._pending_timeout = None
            if self._restore_timeout is not _UNSET:
                restore, self._restore_timeout = self._restore_timeout, _UNSET
                if self.sock is not None:
                    self.sock.settimeout(restore)

    def _apply_timeout(self) -> None:
        timeout, self._pending_timeout = self._pending_timeout, None
        if timeout is None or self.sock is None:
            return
        current = self.sock.gettimeout()
        if current != timeout:
            self.sock.settimeout(timeout)
            self._restore_timeout = current

    # --- reads and writes ---------------------------------------------------------------------------------

    def write(self, s: bytes) -> None:
        self._apply_timeout()
        super().write(s)

    def _fill(self, wanted: int, *, initial: bool = False) -> None:
        """Have at least ``wanted`` unread bytes buffered, reading the socket (ahead) only if they are not."""
        if len(self._buffer) - self._position >= wanted:
            return
        if self._position:
            del self._buffer[:self._position]
            self._position = 0
        self._apply_timeout()
        while len(self._buffer) < wanted:
            try:
                chunk = self.sock.recv(max(wanted - len(self._buffer), READ_AHEAD))
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EINTR):
                    if initial and self.raise_on_initial_eintr:
                        raise TimeoutError() from exc
                    continue
                raise
            if not chunk:
                raise OSError("Server unexpectedly closed connection")
            self._buffer += chunk

    def _read(self, n: int, initial: bool = False, _errnos: Any = None) -> bytes:
        """``n`` bytes from the buffer (py-amqp's contract: exactly ``n``, or an exception)."""
        self._fill(n, initial=initial)
        start = self._position
        self._position += n
        return bytes(self._buffer[start:self._position])

    def read_frame(self, unpack: Any = None) -> tuple[int, int, bytes]:
        """The next frame: (type, channel, payload). Nothing is consumed unless the whole frame is buffered,
        so a timeout part-way leaves the bytes read so far for the next call."""
        try:
            self._fill(7, initial=True)
            frame_type, channel, size = unpack_from(">BHI", self._buffer, self._position)
            self._fill(7 + size + 1)
        except TimeoutError:
            raise
        except OSError as exc:
            if exc.errno not in _WOULD_BLOCK:
                self.connected = False
            raise
        start = self._position + 7
        end = start + size
        payload = bytes(self._buffer[start:end])
        frame_end = self._buffer[end]
        self._position = end + 1
        if frame_end != FRAME_END:
            raise UnexpectedFrame(f"Received frame_end {frame_end:#04x} while expecting 0xce")
        return frame_type, channel, payload


class Connection(pyamqp.Connection):
    """kombu's AMQP connection, on :class:`ReadAheadTransport` unless TLS is asked for."""

    def Transport(self, host: str, connect_timeout: float | None, ssl: Any = False,
                  read_timeout: float | None = None, write_timeout: float | None = None,
                  socket_settings: Any = None, **kwargs: Any) -> amqp.transport._AbstractTransport:
        if ssl:
            return super().Transport(host, connect_timeout, ssl=ssl, read_timeout=read_timeout,
                                     write_timeout=write_timeout, socket_settings=socket_settings, **kwargs)
        return ReadAheadTransport(host, connect_timeout=connect_timeout, read_timeout=read_timeout,
                                  write_timeout=write_timeout, socket_settings=socket_settings, **kwargs)


class Transport(pyamqp.Transport):
    """kombu's ``pyamqp`` transport with :class:`Connection`."""

    Connection = Connection
