"""Settings of ``cardpipe serve`` and where its credentials come from.

The ``serve:`` section of pipeline.yaml validates into :class:`ServeSettings` before anything starts, so a
typo in a key or an impossible limit is reported at once. Secrets never live in that file: the key pairs come
from the ``CARDPIPE_CREDENTIALS`` environment variable and/or a credentials file that only the server reads.

>>> load_credentials(ServeSettings(), {"CARDPIPE_CREDENTIALS": "1252821871:AKIDxx:secret"})
[Credential(appid='1252821871', secret_id='AKIDxx', secret_key='***')]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from worker.api.errors import ConfigError
from worker.api.legacy.signing import Credential

#: The environment variable holding ``appid:secretid:secretkey[,appid:secretid:secretkey...]``.
CREDENTIALS_ENV = "CARDPIPE_CREDENTIALS"

HOW_TO_GIVE_CREDENTIALS = (
    "cardpipe serve needs at least one credential to verify signatures. Give them either as the environment "
    f'variable {CREDENTIALS_ENV}="appid:secretid:secretkey[,appid:secretid:secretkey...]" or as a file with one '
    '"appid:secretid:secretkey" per line, named by --credentials-file or by serve.credentials_file in '
    "pipeline.yaml."
)


class ServeSettings(BaseModel):
    """The ``serve:`` section of pipeline.yaml.

    Parameters:
        host, port: where the HTTP server listens.
        max_body_bytes: a request body above this is refused (413, code 20) without being read; the same cap
            bounds an image downloaded in url mode. The legacy service's limit is 6 MB.
        max_images: image parts (or urls) one request may carry; more answers code 19.
        pool_size: recognitions running at once; 0 means one per CPU core.
        queue_timeout_s: how long a request may wait for a free recognition slot before it is answered 15.
        max_pending_requests: requests being read, downloaded or recognized at once; one more is answered 15
            before its body is read. With ``max_body_bytes`` it bounds the memory held by request bodies.
        body_timeout_s: the whole request body must arrive within this time, or the answer is code 3; a client
            that sends headers and then stalls must not hold a request open for ever.
        rate_per_appid, burst_per_appid: the per-appid token bucket (requests per second, bucket size).
        url_fetch_timeout_s: the whole download of a url-mode image must finish within this time.
        allow_private_urls: permit url mode to reach loopback, private, link-local and cloud metadata
            addresses. Off by default, because a server that fetches any url is a request-forgery gateway
            into its own network.
        credentials_file: a file with one ``appid:secretid:secretkey`` per line (``#`` starts a comment).
    """

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    max_images: int = Field(default=20, ge=1, le=1000)
    pool_size: int = Field(default=0, ge=0, le=256)
    queue_timeout_s: float = Field(default=0.05, ge=0.0, le=600.0)
    max_pending_requests: int = Field(default=64, ge=1)
    body_timeout_s: float = Field(default=60.0, gt=0.0, le=3600.0)
    rate_per_appid: float = Field(default=10.0, gt=0.0)
    burst_per_appid: int = Field(default=20, ge=1)
    url_fetch_timeout_s: float = Field(default=5.0, gt=0.0, le=300.0)
    allow_private_urls: bool = False
    credentials_file: Path | None = None

    @property
    def effective_pool_size(self) -> int:
        """``pool_size``, with 0 resolved to the number of CPU cores."""
        return self.pool_size or os.cpu_count() or 1


def parse_credential(entry: str, *, where: str) -> Credential:
    """One ``appid:secretid:secretkey`` entry; the key may itself contain colons.

    ``where`` names the entry in errors (e.g. "CARDPIPE_CREDENTIALS entry 2"); the entry's text is never
    echoed, because it holds a secret.
    """
    parts = entry.strip().split(":", 2)
    if len(parts) != 3:
        raise ConfigError(f"{where}: expected appid:secretid:secretkey (three fields separated by ':'), "
                          f"found {len(parts)} field(s)")
    appid, secret_id, secret_key = (p.strip() for p in parts)
    empty = [name for name, value in (("appid", appid), ("secretid", secret_id), ("secretkey", secret_key))
             if not value]
    if empty:
        raise ConfigError(f"{where}: {', '.join(empty)} is empty")
    return Credential(appid=appid, secret_id=secret_id, secret_key=secret_key)


def _from_environment(environ: Mapping[str, str]) -> Iterable[Credential]:
    raw = environ.get(CREDENTIALS_ENV, "")
    if not raw.strip():
        return
    for index, entry in enumerate(raw.split(","), start=1):
        yield parse_credential(entry, where=f"{CREDENTIALS_ENV} entry {index}")


def _from_file(path: Path) -> Iterable[Credential]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"credentials_file {path}: cannot be read ({exc.strerror or exc})") from exc
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        yield parse_credential(line, where=f"credentials_file {path} line {line_number}")


def load_credentials(settings: ServeSettings, environ: Mapping[str, str] = os.environ) -> list[Credential]:
    """Every credential from the environment and from ``settings.credentials_file``, checked.

    Parameters:
        settings: supplies ``credentials_file`` (optional).
        environ: where ``CARDPIPE_CREDENTIALS`` is read; the process environment by default.

    Raises:
        ConfigError: a malformed entry (named by its index or line, never by its text), an unreadable file,
            or one SecretId claimed by two appids or with two different keys.
    """
    found = list(_from_environment(environ))
    if settings.credentials_file is not None:
        found.extend(_from_file(settings.credentials_file))
    by_secret_id: dict[str, Credential] = {}
    for credential in found:
        known = by_secret_id.get(credential.secret_id)
        if known is not None and known != credential:
            raise ConfigError(f"SecretId {credential.secret_id!r} is given twice with different appids or keys")
        by_secret_id[credential.secret_id] = credential
    return list(by_secret_id.values())
