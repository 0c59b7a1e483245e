"""Reaching the broker: bounded connection attempts, a refused login told apart, the URL shown without password.

Why: an unreachable broker used to be retried inside retries (12 minutes of warnings before the worker gave
up), a wrong password ended in a traceback, and a signal waited for a connection attempt to time out. Here
one loop tries to connect with a short socket timeout, waits between attempts on a stop event (a signal acts
at once), gives up after ``queue.unreachable_exit_s`` with :class:`BrokerUnavailable`, and gives up at once
when the broker refuses our login: retrying refused credentials cannot succeed.

>>> masked_url("amqp://cardpipe:s3cret@rabbit:5672//")
'amqp://cardpipe:****@rabbit:5672//'
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse

import kombu
import kombu.exceptions
from amqp.exceptions import AccessRefused  # py-amqp is a dependency of kombu

from worker.api.errors import CardpipeError
from worker.exit_codes import EXIT_BROKER_DOWN
from worker.observability import get_logger

log = get_logger("broker")

#: Socket timeout of one connection attempt: short, so a signal never waits long for an attempt to end.
CONNECT_TIMEOUT_S = 1.5
#: The longest pause between two connection attempts.
MAX_PAUSE_S = 5.0

#: ``scheme://user:password@`` in a string urlsplit does not parse as a URL.
_CREDENTIALS = re.compile(r"(://[^/@:\s]*:)[^@\s]*@")

_LOGIN_REFUSED_MARKERS = ("access_refused", "access refused", "authentication", "auth failed", "invalid password",
                          "wrongpass", "noauth", "login refused")


class BrokerUnavailable(CardpipeError):
    """The broker could not be used: unreachable for too long, or refusing our login. Exit code 4."""

    exit_code = EXIT_BROKER_DOWN

    def __init__(self, url: str, cause: str, *, login_refused: bool = False) -> None:
        self.url = masked_url(url)
        self.cause = cause
        self.login_refused = login_refused
        what = "refused our login" if login_refused else "is unreachable"
        super().__init__(f"the broker at {self.url} {what}: {cause}")


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``****``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        # Not a URL urlsplit understands (a scheme it rejects): mask whatever sits between "user:" and "@".
        return _CREDENTIALS.sub(r"\1****@", url)
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))


def describe(exc: BaseException) -> str:
    """A one-line cause: the exception's type and first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_login_refused(exc: BaseException) -> bool:
    """True when ``exc`` says the broker refused our credentials (AMQP 403, Redis AUTH, ...)."""
    if isinstance(exc, AccessRefused):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(marker in text for marker in _LOGIN_REFUSED_MARKERS)


def connection_errors(conn: kombu.Connection) -> tuple[type[BaseException], ...]:
    """What a lost or refused connection raises on ``conn``'s transport."""
    return (OSError, kombu.exceptions.OperationalError, *conn.connection_errors, AccessRefused)


def connect(conn: kombu.Connection, *, url: str, timeout_s: float, stop: threading.Event | None = None,
            max_attempts: int = 0) -> bool:
    """Connect ``conn``, retrying for up to ``timeout_s``; False when ``stop`` was set meanwhile.

    ``url`` is the broker's URL as configured, for messages (password masked): kombu's own ``as_uri`` names a
    transport given as a class (cardpipe's Redis and AMQP transports) by the class's repr, not by the scheme.

    Raises:
        BrokerUnavailable: the broker refused our login, or stayed unreachable for ``timeout_s`` (or
            ``max_attempts`` attempts, when not 0).
    """
    started = time.monotonic()
    errors = connection_errors(conn)
    attempt = 0
    while True:
        attempt += 1
        try:
            conn.connect()
            if attempt > 1:
                log.info("broker.connected", url=masked_url(url), attempts=attempt)
            return True
        except errors as exc:
            if is_login_refused(exc):
                raise BrokerUnavailable(url, describe(exc), login_refused=True) from None
            elapsed = time.monotonic() - started
            pause = min(MAX_PAUSE_S, 0.5 * 2 ** (attempt - 1))
            if elapsed + pause > timeout_s or (max_attempts and attempt >= max_attempts):
                raise BrokerUnavailable(url, f"{describe(exc)} (tried for {elapsed:.0f} s)") from None
            emit = log.warning if attempt == 1 else log.debug
            emit("broker.unreachable", url=masked_url(url), error=describe(exc), retry_in_s=pause,
                 gives_up_after_s=timeout_s)
            if stop is not None:
                if stop.wait(pause):
                    return False
            else:
                time.sleep(pause)
