"""Settings for fetching images: which local folders may be read, the size cap, and the S3/COS endpoint.

Credentials are deliberately absent: boto3 finds them the usual ways (environment, shared profile,
instance or pod role), so no secret ever sits in pipeline.yaml.

>>> StorageSettings(s3={"endpoint_url": "https://cos.ap-guangzhou.myqcloud.com", "region": "ap-guangzhou"}).s3.region
'ap-guangzhou'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class S3Settings(BaseModel):
    """Where the S3-compatible store is and how to talk to it.

    Parameters:
        endpoint_url: None for AWS (or ``AWS_ENDPOINT_URL`` when set); COS is
            ``https://cos.<region>.myqcloud.com``; MinIO is its own URL.
        region: the signing region; COS needs its region here.
        addressing_style: ``virtual`` (bucket in the host name; COS wants it), ``path`` (MinIO), or ``auto``.
        max_pool_connections: HTTP connections the shared client keeps; at least the number of worker threads.
        profile: a named profile from the shared AWS config files.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: Literal["auto", "virtual", "path"] = "auto"
    max_pool_connections: int = Field(default=32, ge=1)
    profile: str | None = None


class StorageSettings(BaseModel):
    """How images are fetched.

    Parameters:
        local_roots: folders local paths must resolve into (after following symlinks).
        max_bytes: the largest image accepted; the API refuses bodies over 6 MB, so larger ones are not read.
        timeout_s: connect and read timeout for remote stores.
        s3: the S3/COS endpoint.
    """

    model_config = ConfigDict(extra="forbid")

    local_roots: list[Path] = Field(default_factory=lambda: [Path(".")])
    max_bytes: int = Field(default=6 * 1024 * 1024, ge=1)
    timeout_s: float = Field(default=30.0, gt=0)
    s3: S3Settings = Field(default_factory=S3Settings)
