"""Errors that carry a legacy API code.

One exception type crosses every layer (recognizer, client, server, pipeline) so that a failure keeps its
code from where it happened to where it is recorded: the dead letter or the HTTP answer.

>>> err = ApiError(-1102, "not an image")
>>> err.code, err.transient
(-1102, False)
"""

from __future__ import annotations

from worker.api.legacy import codes

#: The most characters of an upstream's own words (its message, an exception's text) that an error carries,
#: card numbers masked (:func:`worker.observability.public_text`); both protocols' clients keep to it.
UPSTREAM_TEXT_CHARS = 300
#: The most characters of an answer's body that is not the API's (an HTML error page, say) quoted in an error.
UPSTREAM_BODY_CHARS = 200


class CardpipeError(Exception):
    """Base class for every error cardpipe raises on purpose."""


class ApiError(CardpipeError):
    """A failure expressed as a legacy API code and a human-readable reason.

    Parameters:
        code: the API's error code (see :mod:`worker.api.legacy.codes`); a protocol whose codes are names
            (API 3.0) subclasses this class and passes its name.
        message: why, in words an operator can act on; defaults to the table's message.
        http_status: the HTTP status that came with it, when it came over HTTP.
    """

    def __init__(self, code: int | str, message: str | None = None, *, http_status: int | None = None) -> None:
        self.code = code
        self.message = message or (codes.message_for(code) if isinstance(code, int) else code)
        self.http_status = http_status
        super().__init__(f"[{code}] {self.message}")

    @property
    def transient(self) -> bool:
        if self.http_status is not None and codes.is_transient_http_status(self.http_status):
            return True
        return codes.is_transient(self.code)

    @property
    def disposition(self) -> codes.Disposition:
        if self.transient:
            return codes.Disposition.RETRY
        return codes.Disposition.of(self.code)


class ConfigError(CardpipeError):
    """The configuration is invalid; the message names the key and what is allowed."""
