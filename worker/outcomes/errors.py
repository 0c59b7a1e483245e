"""The outcome store's error, and the parsing of an S3 sink URL that the ``outcomes:`` settings validate with.

Why a module of its own: :mod:`worker.outcomes.settings` checks an ``s3://`` sink when the configuration is
read, by every command; taking the check from :mod:`worker.outcomes.base` imported the store contract and the
task models with it (:mod:`worker.tasks`), start-up time for commands that keep no outcome
(``cardpipe recognize``).
"""

from __future__ import annotations

from worker.api.errors import CardpipeError


class OutcomeStoreError(CardpipeError):
    """The outcome store cannot be written or read (disk full, bucket missing, access denied)."""


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix/``); ``cos://`` works the same.

    >>> split_s3_url("s3://outcomes/run-1")
    ('outcomes', 'run-1/')
    """
    scheme, _, rest = url.partition("://")
    if scheme not in {"s3", "cos"} or not rest:
        raise OutcomeStoreError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise OutcomeStoreError(f"no bucket in {url!r}")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")
