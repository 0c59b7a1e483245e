"""The legacy multi-effective signature (多次有效签名): build it as a client, verify it as a server.

``Authorization = base64(HMAC-SHA1(SecretKey, plaintext) || plaintext)`` where the plaintext is
``a=<appid>&b=<bucket>&k=<SecretId>&e=<expiry>&t=<now>&r=<random>&u=<user>&f=<fileid>``.

Real clients disagree on field order and presence, so the verifier never rebuilds the plaintext: it
checks the HMAC over the exact bytes received and only then reads the fields, in any order.

>>> auth = sign("1252821871", "AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK", "nwOKDouy5JctNOlnere4gkVoOUz5EYAb",
...             bucket="tencentyun", now=1436077115, ttl=2592000, nonce=11162)
>>> parse(auth).fields["e"]
'1438669115'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from worker.api.errors import ApiError
from worker.api.legacy import codes

#: The longest validity the legacy service grants a multi-effective signature.
MAX_TTL_SECONDS = 90 * 24 * 3600
_DIGEST_SIZE = 20
#: How many one-time signatures the built-in replay guard remembers.
REPLAY_MEMORY = 1_000_000


def plaintext_for(
    appid: str,
    secret_id: str,
    *,
    bucket: str = "",
    expires: int,
    now: int,
    nonce: int,
    user: str = "0",
    fileid: str = "",
) -> str:
    """The plaintext in the official field order ``a&b&k&e&t&r&u&f``."""
    return f"a={appid}&b={bucket}&k={secret_id}&e={expires}&t={now}&r={nonce}&u={user}&f={fileid}"


def sign_plaintext(plaintext: str, secret_key: str) -> str:
    """``base64(HMAC-SHA1(secret_key, plaintext) || plaintext)``, the Authorization header value."""
    raw = plaintext.encode("utf-8")
    digest = hmac.new(secret_key.encode("utf-8"), raw, hashlib.sha1).digest()
    return base64.b64encode(digest + raw).decode("ascii")


def sign(
    appid: str,
    secret_id: str,
    secret_key: str,
    *,
    bucket: str = "",
    ttl: int = 3600,
    now: int | None = None,
    nonce: int | None = None,
    user: str = "0",
) -> str:
    """A multi-effective signature valid for ``ttl`` seconds from ``now``.

    Parameters:
        appid, secret_id, secret_key: the account's credentials.
        bucket: the ``b`` field; empty for OCR calls that name no bucket.
        ttl: validity in seconds, at most 90 days.
        now: the signing time (unix seconds); the current time when omitted.
        nonce: the ``r`` field; a random 10-digit-or-less number when omitted.
    """
    if not 0 < ttl <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be within 1..{MAX_TTL_SECONDS} seconds, got {ttl}")
    issued = int(time.time()) if now is None else int(now)
    rand = secrets.randbelow(10**10) if nonce is None else nonce
    text = plaintext_for(appid, secret_id, bucket=bucket, expires=issued + ttl, now=issued, nonce=rand,
                         user=user)
    return sign_plaintext(text, secret_key)


@dataclass(frozen=True)
class ParsedSignature:
    """A decoded Authorization value: the digest, the exact plaintext bytes, and its fields."""

    digest: bytes
    plaintext: bytes
    fields: Mapping[str, str]

    @property
    def appid(self) -> str:
        return self.fields.get("a", "")

    @property
    def secret_id(self) -> str:
        return self.fields.get("k", "")

    @property
    def bucket(self) -> str | None:
        return self.fields.get("b")

    @property
    def one_time(self) -> bool:
        """A one-time signature has ``e=0`` and names a file; a second use is a replay."""
        return _as_seconds(self.fields.get("e", "")) == 0


def _as_seconds(value: str) -> float | None:
    """Read ``e``/``t``; some callers send ``str(time.time())`` floats."""
    try:
        return float(value)
    except ValueError:
        return None


def parse(authorization: str) -> ParsedSignature:
    """Decode an Authorization value; raise :class:`ApiError` 4 (empty) or 5 (undecodable)."""
    value = (authorization or "").strip()
    if not value:
        raise ApiError(codes.SIGNATURE_EMPTY)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(codes.SIGNATURE_INVALID, "signature is not valid base64") from exc
    if len(raw) <= _DIGEST_SIZE:
        raise ApiError(codes.SIGNATURE_INVALID, "signature is shorter than its digest")
    digest, plaintext = raw[:_DIGEST_SIZE], raw[_DIGEST_SIZE:]
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(codes.SIGNATURE_INVALID, "signature plaintext is not UTF-8") from exc
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        key, sep, val = pair.partition("=")
        if not sep or not key:
            raise ApiError(codes.SIGNATURE_INVALID, "signature plaintext is not key=value pairs")
        fields[key] = val
    if not {"a", "k", "e", "t"} <= fields.keys():
        raise ApiError(codes.SIGNATURE_INVALID, "signature plaintext lacks a, k, e or t")
    return ParsedSignature(digest=digest, plaintext=plaintext, fields=fields)


@dataclass(frozen=True)
class Credential:
    """One API key pair. ``secret_key`` is never logged or shown in a repr."""

    appid: str
    secret_id: str
    secret_key: str

    def __repr__(self) -> str:
        return f"Credential(appid={self.appid!r}, secret_id={self.secret_id!r}, secret_key='***')"


class Verifier:
    """Checks Authorization headers against known credentials, as the legacy service does.

    Parameters:
        credentials: every accepted key pair.
        clock: returns the current unix time; injectable for tests.
        replay_guard: called with a one-time signature's digest; returns False when it was seen before.

    The checks run in the order that gives the most specific code: decodable (5), known appid (10),
    known SecretId (11),
    appid owns it (12), HMAC (14), appid matches the request (6), bucket matches (6), not expired (9),
    one-time not replayed (13).
    """

    def __init__(
        self,
        credentials: list[Credential],
        *,
        clock: Callable[[], float] = time.time,
        replay_guard: Callable[[bytes], bool] | None = None,
    ) -> None:
        self._by_secret_id = {c.secret_id: c for c in credentials}
        self._appids = {c.appid for c in credentials}
        self._clock = clock
        self._seen_one_time: OrderedDict[bytes, None] = OrderedDict()
        self._seen_lock = threading.Lock()
        self._replay_guard = replay_guard or self._remember_once

    def _remember_once(self, digest: bytes) -> bool:
        """In-process replay memory, bounded so a flood of one-time signatures cannot exhaust memory.

        The oldest digests are forgotten first; a deployment of several servers that must refuse replays
        across all of them passes a shared ``replay_guard`` instead.
        """
        with self._seen_lock:
            if digest in self._seen_one_time:
                return False
            self._seen_one_time[digest] = None
            if len(self._seen_one_time) > REPLAY_MEMORY:
                self._seen_one_time.popitem(last=False)
            return True

    def verify(self, authorization: str | None, *, appid: str | None, bucket: str | None = None) -> Credential:
        """Return the credential that signed the request, or raise :class:`ApiError` with its code."""
        parsed = parse(authorization or "")
        if parsed.appid not in self._appids:
            raise ApiError(codes.APPID_UNKNOWN)
        credential = self._by_secret_id.get(parsed.secret_id)
        if credential is None:
            raise ApiError(codes.SECRET_ID_UNKNOWN)
        if credential.appid != parsed.appid:
            raise ApiError(codes.APPID_MISMATCH)
        expected = hmac.new(credential.secret_key.encode("utf-8"), parsed.plaintext, hashlib.sha1).digest()
        if not hmac.compare_digest(expected, parsed.digest):
            raise ApiError(codes.SIGNATURE_FAILED)
        if appid is not None and appid != parsed.appid:
            raise ApiError(codes.APPID_BUCKET_URL_MISMATCH, "appid in the request differs from the signature's")
        signed_bucket = parsed.bucket
        if bucket and signed_bucket and bucket != signed_bucket:
            raise ApiError(codes.APPID_BUCKET_URL_MISMATCH, "bucket in the request differs from the signature's")
        expires = _as_seconds(parsed.fields["e"])
        if expires is None:
            raise ApiError(codes.SIGNATURE_INVALID, "signature expiry is not a number")
        if parsed.one_time:
            if not self._replay_guard(parsed.digest):
                raise ApiError(codes.REPLAY_ATTACK)
        elif expires < self._clock():
            raise ApiError(codes.SIGNATURE_EXPIRED)
        return credential
