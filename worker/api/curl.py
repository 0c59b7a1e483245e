"""Keep-alive HTTP POSTs through libcurl (pycurl): a bounded pool of handles that threads share.

Why libcurl for the per-image call: it is made once per image, so its cost is a worker's cost per message. On
the same signed 32 KB multipart POST to a loopback server (one thread, answer parsing included), urllib3 spends
3.0x libcurl's CPU per call and httpx 5.2x (~54 us user per call with libcurl;
``scripts/bench/upstream_call.py``; ``scripts/bench/brokers.py`` measures the whole worker). And libcurl does
the whole exchange in C with the GIL released once, where urllib3 and http.client make ~9 system calls per
call (a drop check, two timeout switches, a poll before every send and receive), each of which releases the
GIL and, on a busy worker, hands it to another thread.

Behaviour: a proxy is taken from the environment as Python reads it (``http_proxy``/``HTTP_PROXY``,
``https_proxy``, ``all_proxy``, ``no_proxy``; libcurl's own reading ignores an upper-case ``HTTP_PROXY``), only
http(s) proxies; https verifies with certifi's bundle or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, as httpx does;
at most ``max_connections`` connections, a caller beyond them waits up to ``pool_timeout_s`` for one; no
redirects followed, no retries. Timeouts: ``connect_timeout_s`` to connect, and ``timeout_s`` for the whole
call, connecting included. (libcurl's stall detector, the nearest it has to a read timeout, averages the speed
over seconds: a server that took a small request and then said nothing ran ~5 s past a 0.3 s setting.)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import pycurl

from worker.api.errors import ConfigError


class HttpError(Exception):
    """A call that got no HTTP answer: refused, unresolvable, reset, broken, TLS failure (the base class)."""


class HttpTimeout(HttpError):
    """A connect or a call that took longer than its timeout, or no free connection in the pool in time."""


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``<scheme>_proxy``, else ``all_proxy``), unless
    ``no_proxy`` exempts its host; None for a direct connection.

    Raises:
        ConfigError: the proxy is not an http(s) proxy (SOCKS and others are not supported).
    """
    parts = urlsplit(url)
    proxies = getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or proxy_bypass(parts.hostname or ""):
        return None
    proxy = proxy if "://" in proxy else f"http://{proxy}"
    scheme = urlsplit(proxy).scheme.lower()
    if scheme not in {"http", "https"}:
        raise ConfigError(f"the proxy the environment names for {url} is not an http(s) proxy: {scheme}://...")
    return proxy


def _certificates() -> tuple[str | None, str | None]:
    """(CA file, CA directory) to verify https with: the environment's, else certifi's bundle."""
    ca_file, ca_dir = os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None
    if ca_file is None and ca_dir is None:
        import certifi  # httpx's dependency, and its choice of certificates

        ca_file = certifi.where()
    return ca_file, ca_dir


class CurlPool:
    """POSTs to one URL over at most ``max_connections`` keep-alive connections; safe to share between threads.

    Each libcurl handle keeps its own connection alive, so the pool hands out handles: a thread takes one for
    a call and puts it back, and a thread that finds none free (and the pool at its size) waits.
    """

    def __init__(self, url: str, *, timeout_s: float, connect_timeout_s: float, max_connections: int,
                 pool_timeout_s: float) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self.url = url
        self._proxy = proxy_for(url)
        self._https = url.lower().startswith("https:")
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_connections = max_connections
        self._pool_timeout_s = pool_timeout_s
        self._idle: list[pycurl.Curl] = []
        self._created = 0
        self._closed = False
        self._free = threading.Condition()

    def post(self, body: bytes, headers: Sequence[str]) -> tuple[int, bytes]:
        """One POST of ``body`` with ``headers`` (``"Name: value"`` lines); returns the status and whole body.

        Raises:
            HttpTimeout: connect or call timeout, or no free connection within ``pool_timeout_s``.
            HttpError: any other failure to get an answer.
        """
        handle = self._take()
        chunks: list[bytes] = []
        try:
            handle.setopt(pycurl.HTTPHEADER, [*headers, "Expect:"])  # no 100-continue round trip
            handle.setopt(pycurl.POSTFIELDS, body)
            handle.setopt(pycurl.WRITEFUNCTION, chunks.append)
            handle.perform()
            status = int(handle.getinfo(pycurl.RESPONSE_CODE))
        except pycurl.error as exc:
            code, message = (*exc.args, 0, "")[:2]
            error = HttpTimeout if code == pycurl.E_OPERATION_TIMEDOUT else HttpError
            raise error(f"curl error {code}: {message}") from None
        finally:
            # An idle handle keeps no reference to this call's body (up to 6 MB) or answer buffer.
            handle.setopt(pycurl.POSTFIELDS, b"")
            handle.setopt(pycurl.WRITEFUNCTION, _discard)
            self._give_back(handle)
        return status, b"".join(chunks)

    def close(self) -> None:
        """Close every idle connection; handles in use are closed when they come back. A call after this still
        works, on a connection of its own that is closed when the call ends."""
        with self._free:
            self._closed = True
            idle, self._idle = self._idle, []
            self._created -= len(idle)
            self._free.notify_all()
        for handle in idle:
            handle.close()

    # --- the pool -----------------------------------------------------------------------------------------

    def _take(self) -> pycurl.Curl:
        deadline = time.monotonic() + self._pool_timeout_s
        with self._free:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._created < self._max_connections:
                    self._created += 1
                    break
                remaining = deadline - time.monotonic()
                if (remaining <= 0 or not self._free.wait(remaining)) and not self._idle \
                        and self._created >= self._max_connections:
                    raise HttpTimeout(f"no free connection to {self.url} within {self._pool_timeout_s} s "
                                      f"({self._max_connections} in use)")
        try:
            return self._new_handle()
        except BaseException:
            with self._free:
                self._created -= 1
                self._free.notify()
            raise

    def _give_back(self, handle: pycurl.Curl) -> None:
        with self._free:
            if self._closed:
                self._created -= 1
                handle.close()
            else:
                self._idle.append(handle)
            self._free.notify()

    def _new_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, self.url)
        handle.setopt(pycurl.POST, 1)
        handle.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: threads
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, round(self._connect_timeout_s * 1000)))
        handle.setopt(pycurl.TIMEOUT_MS, max(1, round(self._timeout_s * 1000)))
        handle.setopt(pycurl.MAXCONNECTS, 1)
        handle.setopt(pycurl.PROXY, self._proxy or "")  # "" = no proxy, whatever libcurl would read itself
        if self._https:
            ca_file, ca_dir = _certificates()
            if ca_file:
                handle.setopt(pycurl.CAINFO, ca_file)
            if ca_dir:
                handle.setopt(pycurl.CAPATH, ca_dir)
        return handle


def _discard(_chunk: bytes) -> None:
    """A write callback for a handle between calls."""
