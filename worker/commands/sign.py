"""``cardpipe sign``: print the signature headers of one call, so a person can call the API with curl.

The secrets are read from environment variables whose names are given (never from the command line, where
``ps`` and the shell history would keep them). The output is header lines, ready for ``curl -H @file``:

* legacy (the default): one ``Authorization:`` line, a multi-effective signature valid for ``--ttl`` seconds,
  or with ``--once`` a one-time signature that the server accepts for exactly one request;
* ``--v3``: API 3.0's headers for ``POST /`` with the JSON body of ``--body`` (TC3-HMAC-SHA256 signs the exact
  body bytes and the host, and is valid for five minutes).

Example::

    export CARDPIPE_UPSTREAM__SECRET_ID=AKID... CARDPIPE_UPSTREAM__SECRET_KEY=...
    cardpipe sign --appid 1250000000 > auth.txt
    curl -H @auth.txt -F appid=1250000000 -F image=@card.jpg http://127.0.0.1:8080/ocr/bankcard
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

from worker.api.legacy.signing import plaintext_for, sign, sign_plaintext
from worker.api.v3 import tc3
from worker.api.v3.schema import ACTION, SERVICE, VERSION
from worker.exit_codes import EXIT_CONFIG

DEFAULT_SECRET_ID_ENV = "CARDPIPE_UPSTREAM__SECRET_ID"
DEFAULT_SECRET_KEY_ENV = "CARDPIPE_UPSTREAM__SECRET_KEY"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--appid", default="", help="the AppID the legacy signature names (legacy: required)")
    parser.add_argument("--bucket", default="", help="the legacy signature's bucket (b); empty by default")
    parser.add_argument("--secret-id-env", default=DEFAULT_SECRET_ID_ENV, metavar="NAME",
                        help=f"environment variable holding the SecretId (default {DEFAULT_SECRET_ID_ENV})")
    parser.add_argument("--secret-key-env", default=DEFAULT_SECRET_KEY_ENV, metavar="NAME",
                        help=f"environment variable holding the SecretKey (default {DEFAULT_SECRET_KEY_ENV})")
    parser.add_argument("--ttl", type=int, default=3600, help="legacy: seconds the signature stays valid")
    parser.add_argument("--once", action="store_true", help="legacy: a one-time signature, good for one request")
    parser.add_argument("--v3", action="store_true", help="API 3.0 (TC3-HMAC-SHA256) headers for POST /")
    parser.add_argument("--host", default="", help="v3: the Host the request goes to, e.g. 127.0.0.1:8080")
    parser.add_argument("--body", type=Path, default=None, help="v3: the file holding the exact JSON body")
    parser.add_argument("--region", default="", help="v3: X-TC-Region, e.g. ap-guangzhou")


def _secret(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(f"the {what} is read from the environment variable {name}, which is not set")
    return value


def legacy_header(args: argparse.Namespace, secret_id: str, secret_key: str) -> str:
    if not args.appid:
        raise ValueError("--appid is required for a legacy signature")
    if args.once:
        plaintext = plaintext_for(args.appid, secret_id, bucket=args.bucket, expires=0, now=int(time.time()),
                                  nonce=secrets.randbelow(10**10), fileid=secrets.token_hex(8))
        value = sign_plaintext(plaintext, secret_key)
    else:
        value = sign(args.appid, secret_id, secret_key, bucket=args.bucket, ttl=args.ttl)  # checks --ttl
    return f"Authorization: {value}"


def v3_headers(args: argparse.Namespace, secret_id: str, secret_key: str) -> list[str]:
    if not args.host or args.body is None:
        raise ValueError("--v3 needs --host (as the request's Host header will be) and --body (the JSON body file)")
    payload = args.body.read_bytes()
    headers = tc3.sign_headers(secret_id=secret_id, secret_key=secret_key, host=args.host, service=SERVICE,
                               action=ACTION, version=VERSION, region=args.region, payload=payload)
    return [f"{name}: {value}" for name, value in headers.items()]


def run(args: argparse.Namespace) -> int:
    """Print the header lines; 2 with the reason when an argument or a secret is missing."""
    try:
        secret_id = _secret(args.secret_id_env, "SecretId")
        secret_key = _secret(args.secret_key_env, "SecretKey")
        lines = v3_headers(args, secret_id, secret_key) if args.v3 else [legacy_header(args, secret_id, secret_key)]
    except (ValueError, OSError) as exc:
        print(f"cardpipe sign: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print("\n".join(lines))
    return 0
