"""The bank-card OCR APIs cardpipe speaks, one package per protocol, and the server that answers them.

* :mod:`worker.api.legacy`: the legacy API (``POST /ocr/bankcard``, multi-effective signature, numeric codes).
* :mod:`worker.api.v3`: API 3.0's BankCardOCR (``POST /``, TC3-HMAC-SHA256, named error codes).
* :mod:`worker.api.server`: ``cardpipe serve``, routing each request to its protocol's handler.
* :mod:`worker.api.errors`: the error that carries a code from where a failure happens to where it is recorded.
"""
