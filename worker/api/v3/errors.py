"""The error that carries an API 3.0 code through the pipeline and the server.

It is an :class:`~worker.api.errors.ApiError` whose code is the 3.0 name, so the pipeline records it as the
dead letter's code unchanged and decides retry, halt or dead letter from :func:`worker.api.v3.codes.disposition_of`.

>>> err = V3Error("AuthFailure.SignatureExpire")
>>> err.disposition, str(err.code)
(<Disposition.HALT: 'halt'>, 'AuthFailure.SignatureExpire')
"""

from __future__ import annotations

from worker.api.errors import ApiError
from worker.api.legacy.codes import Disposition, is_transient_http_status
from worker.api.v3 import codes


class V3Error(ApiError):
    """A failure named by an API 3.0 code.

    Parameters:
        code: the 3.0 code, e.g. ``FailedOperation.OcrFailed``.
        message: why; the code's published meaning when omitted.
        http_status: the HTTP status it came with, when it came over HTTP.
        request_id: the answer's RequestId, when there was an answer.
    """

    code: str

    def __init__(self, code: str, message: str | None = None, *, http_status: int | None = None,
                 request_id: str = "") -> None:
        super().__init__(code, message or codes.message_for(code), http_status=http_status)
        self.request_id = request_id

    @property
    def transient(self) -> bool:
        if self.http_status is not None and is_transient_http_status(self.http_status):
            return True
        return codes.disposition_of(self.code) is Disposition.RETRY

    @property
    def disposition(self) -> Disposition:
        if self.transient:
            return Disposition.RETRY
        return codes.disposition_of(self.code)
