"""TC3-HMAC-SHA256, API 3.0's request signature: sign as a client, verify as a server.

The published algorithm, step by step:

1. canonical request = ``Method \\n CanonicalURI \\n CanonicalQueryString \\n CanonicalHeaders \\n SignedHeaders \\n
   hex(SHA256(payload))``, where CanonicalHeaders is ``name:value\\n`` for each signed header, names lower-cased,
   values trimmed (and lower-cased), in SignedHeaders order (sorted names joined by ``;``; at least
   ``content-type;host``);  the published text lower-cases header values, the vendor's SDKs sign them as sent,
   so a verifier accepts either;
2. string to sign = ``TC3-HMAC-SHA256 \\n Timestamp \\n Date/service/tc3_request \\n hex(SHA256(canonical request))``,
   Date being the UTC date (``YYYY-MM-DD``) of ``X-TC-Timestamp``;
3. signing key = HMAC-SHA256 chain ``"TC3"+SecretKey -> Date -> service -> "tc3_request"``; signature =
   hex(HMAC-SHA256(signing key, string to sign));
4. ``Authorization: TC3-HMAC-SHA256 Credential=SecretId/Date/service/tc3_request, SignedHeaders=..., Signature=...``.

A server rebuilds the canonical request from what it received and compares signatures in constant time. The
timestamp may differ from the server's clock by at most five minutes (``AuthFailure.SignatureExpire``) and the
credential's date must be the timestamp's UTC date. Within that window the same signature is accepted once
(:class:`ReplayGuard`): an attacker who captures a request cannot have it answered a second time.

>>> headers = sign_headers(secret_id="AKIDexample", secret_key="secret", host="ocr.tencentcloudapi.com",
...     service="ocr", action="BankCardOCR", version="2018-11-19", timestamp=1551113065, payload=b"{}")
>>> headers["Authorization"].split(", ")[:2]
['TC3-HMAC-SHA256 Credential=AKIDexample/2019-02-25/ocr/tc3_request', 'SignedHeaders=content-type;host']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from worker.api.legacy.signing import Credential
from worker.api.v3 import codes
from worker.api.v3.errors import V3Error

ALGORITHM = "TC3-HMAC-SHA256"
#: The largest difference between a request's timestamp and the server's clock the algorithm allows.
MAX_CLOCK_SKEW_S = 300
#: Headers every signature must cover.
REQUIRED_SIGNED_HEADERS = ("content-type", "host")
#: The answer to a replayed signature: unlike other signature failures it says why, since it helps no forger.
REPLAY_MESSAGE = "this signature was already used: the request is a replay"
#: How many signatures the built-in replay guard remembers (a signature is useless after the window anyway).
REPLAY_MEMORY = 1_000_000

_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)\s*,"
    r"\s*Signature=(?P<signature>[0-9a-fA-F]{64})\s*$"
)


def utc_date(timestamp: int) -> str:
    """The UTC date of a unix timestamp, as the credential scope spells it."""
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d")


def canonical_request(*, method: str, uri: str, query: str, headers: Mapping[str, str],
                      signed_headers: tuple[str, ...], payload: bytes, lower_values: bool = False) -> str:
    """Step 1: the canonical request. ``headers`` maps lower-cased names to values as sent."""
    def value(name: str) -> str:
        text = headers.get(name, "").strip()
        return text.lower() if lower_values else text

    canonical_headers = "".join(f"{name}:{value(name)}\n" for name in signed_headers)
    return "\n".join((method.upper(), uri, query, canonical_headers, ";".join(signed_headers),
                      hashlib.sha256(payload).hexdigest()))


def string_to_sign(*, timestamp: int, service: str, canonical: str) -> str:
    """Step 2."""
    scope = f"{utc_date(timestamp)}/{service}/tc3_request"
    return "\n".join((ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()))


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature(*, secret_key: str, date: str, service: str, to_sign: str) -> str:
    """Step 3: the hex signature."""
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(*, secret_id: str, secret_key: str, timestamp: int, service: str, canonical: str,
                  signed_headers: tuple[str, ...]) -> str:
    """Steps 2-4: the ``Authorization`` header value for a canonical request."""
    date = utc_date(timestamp)
    sig = signature(secret_key=secret_key, date=date, service=service,
                    to_sign=string_to_sign(timestamp=timestamp, service=service, canonical=canonical))
    return (f"{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
            f"SignedHeaders={';'.join(signed_headers)}, Signature={sig}")


def sign_headers(*, secret_id: str, secret_key: str, host: str, service: str, action: str, version: str,
                 payload: bytes, timestamp: int | None = None, region: str = "",
                 content_type: str = "application/json") -> dict[str, str]:
    """Every header of a signed ``POST /`` JSON call, Authorization included.

    Parameters:
        secret_id, secret_key: the key pair.
        host: the endpoint's host (and port, when not the scheme's default), as the ``Host`` header carries it.
        service: the product, ``ocr`` for BankCardOCR.
        action, version, region: ``X-TC-Action``, ``X-TC-Version``, ``X-TC-Region`` (omitted when empty).
        payload: the exact body bytes.
        timestamp: unix seconds; now when omitted.
    """
    issued = int(time.time()) if timestamp is None else int(timestamp)
    signed = REQUIRED_SIGNED_HEADERS
    canonical = canonical_request(method="POST", uri="/", query="",
                                  headers={"content-type": content_type, "host": host},
                                  signed_headers=signed, payload=payload)
    headers = {
        "Authorization": authorization(secret_id=secret_id, secret_key=secret_key, timestamp=issued,
                                       service=service, canonical=canonical, signed_headers=signed),
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(issued),
        "X-TC-Version": version,
    }
    if region:
        headers["X-TC-Region"] = region
    return headers


@dataclass(frozen=True)
class ParsedAuthorization:
    """The parts of a TC3 ``Authorization`` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> ParsedAuthorization:
    """Split an Authorization header; ``AuthFailure.InvalidAuthorization`` when it is not a TC3 one."""
    match = _AUTHORIZATION.match((value or "").strip())
    if match is None:
        raise V3Error(codes.AUTH_INVALID_AUTHORIZATION,
                      "Authorization is not 'TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'")
    scope = match["credential"].split("/")
    if len(scope) != 4 or scope[3] != "tc3_request" or not all(scope):
        raise V3Error(codes.AUTH_INVALID_AUTHORIZATION,
                      "Credential is not SecretId/Date/service/tc3_request")
    signed = tuple(match["signed"].lower().split(";"))
    if not set(REQUIRED_SIGNED_HEADERS) <= set(signed) or list(signed) != sorted(set(signed)):
        raise V3Error(codes.AUTH_INVALID_AUTHORIZATION,
                      "SignedHeaders must list content-type and host, sorted, each once")
    return ParsedAuthorization(secret_id=scope[0], date=scope[1], service=scope[2], signed_headers=signed,
                               signature=match["signature"].lower())


class ReplayGuard:
    """Remembers each accepted signature until it would have expired anyway; a second use is refused.

    A request whose answer was "try again" (``RequestLimitExceeded``, ``InternalError``) is forgotten with
    :meth:`forget`, so a client that retries the very same bytes is served.

    Parameters:
        window_s: how long a signature is remembered (twice the allowed clock skew covers both directions).
        clock: unix time; injectable for tests.
    """

    def __init__(self, window_s: float = 2 * MAX_CLOCK_SKEW_S, *, clock: Callable[[], float] = time.time) -> None:
        self._window_s = window_s
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, signature_hex: str) -> bool:
        """True the first time a signature is seen within the window; False for a replay."""
        now = self._clock()
        with self._lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if now - seen_at <= self._window_s and len(self._seen) < REPLAY_MEMORY:
                    break
                del self._seen[oldest]
            if signature_hex in self._seen:
                return False
            self._seen[signature_hex] = now
            return True

    def forget(self, signature_hex: str) -> None:
        with self._lock:
            self._seen.pop(signature_hex, None)


@dataclass(frozen=True)
class SignedRequest:
    """What a verifier needs of one HTTP request."""

    method: str
    uri: str
    query: str
    headers: Mapping[str, str]
    payload: bytes


class Tc3Verifier:
    """Checks TC3 signatures against the server's credential store (the one the legacy side uses).

    Parameters:
        credentials: every accepted key pair; one SecretId/SecretKey works for both protocols.
        service: the only service this server answers (``ocr``).
        clock: unix time; injectable for tests.
        replay_guard: refuses a signature's second use; a fresh in-process one by default.

    Checks, in order: header well-formed (InvalidAuthorization), timestamp within five minutes
    (SignatureExpire), SecretId known (SecretIdNotFound), scope date and service (SignatureFailure), signature
    (SignatureFailure), first use (SignatureFailure).
    """

    def __init__(self, credentials: list[Credential], *, service: str = "ocr",
                 clock: Callable[[], float] = time.time, replay_guard: ReplayGuard | None = None) -> None:
        self._by_secret_id = {c.secret_id: c for c in credentials}
        self._service = service
        self._clock = clock
        self.replays = replay_guard or ReplayGuard(clock=clock)

    def parse_timestamp(self, value: str | None) -> int:
        """``X-TC-Timestamp`` as an int, refused when missing, malformed or outside the allowed skew."""
        if not value:
            raise V3Error(codes.MISSING_PARAMETER, "the X-TC-Timestamp header is missing")
        try:
            timestamp = int(value.strip())
        except ValueError:
            raise V3Error(codes.INVALID_PARAMETER_VALUE, "X-TC-Timestamp is not an integer") from None
        if abs(self._clock() - timestamp) > MAX_CLOCK_SKEW_S:
            raise V3Error(codes.AUTH_SIGNATURE_EXPIRE)
        return timestamp

    def credential_for(self, parsed: ParsedAuthorization) -> Credential:
        credential = self._by_secret_id.get(parsed.secret_id)
        if credential is None:
            raise V3Error(codes.AUTH_SECRET_ID_NOT_FOUND)
        return credential

    @staticmethod
    def _expected(request: SignedRequest, parsed: ParsedAuthorization, credential: Credential, timestamp: int,
                  lower_values: bool) -> str:
        canonical = canonical_request(method=request.method, uri=request.uri, query=request.query,
                                      headers=request.headers, signed_headers=parsed.signed_headers,
                                      payload=request.payload, lower_values=lower_values)
        return signature(secret_key=credential.secret_key, date=parsed.date, service=parsed.service,
                         to_sign=string_to_sign(timestamp=timestamp, service=parsed.service, canonical=canonical))

    def verify(self, request: SignedRequest, parsed: ParsedAuthorization, timestamp: int) -> Credential:
        """The credential that signed ``request``, or :class:`V3Error` with the code a cloud client gets."""
        credential = self.credential_for(parsed)
        if parsed.date != utc_date(timestamp) or parsed.service != self._service:
            raise V3Error(codes.AUTH_SIGNATURE_FAILURE, "the credential scope's date or service does not match "
                                                        "the request")
        if not any(hmac.compare_digest(self._expected(request, parsed, credential, timestamp, lower), parsed.signature)
                   for lower in (False, True)):
            raise V3Error(codes.AUTH_SIGNATURE_FAILURE)
        if not self.replays.first_use(parsed.signature):
            raise V3Error(codes.AUTH_SIGNATURE_FAILURE, REPLAY_MESSAGE)
        return credential
