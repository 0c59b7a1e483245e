"""Sources: folders (everything, recursively, stable order), list files, S3 prefixes with checkpoints and S3
Inventory reports (moto)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from worker.sources import (
    FolderSource,
    ListFileSource,
    S3InventorySource,
    S3PrefixSource,
    SingleFileSource,
    SourceError,
    open_source,
)
from worker.tasks import Task


def test_folder_lists_every_file_recursively_in_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.jpg", "a.png", "notes.txt", "sub/c.jpeg", ".hidden/x.jpg", ".DS_Store"):
        (tmp_path / name).write_bytes(b"x")
    source = open_source(str(tmp_path))
    assert isinstance(source, FolderSource)
    names = [Path(t.location).relative_to(tmp_path).as_posix() for t in source.tasks()]
    assert names == ["a.png", "b.jpg", "notes.txt", "sub/c.jpeg"], "non-images are kept for the recognizer to judge"
    assert [t.id for t in open_source(str(tmp_path)).tasks()] == [t.id for t in source.tasks()], "stable ids"


def test_list_file_and_single_file(tmp_path: Path) -> None:
    (tmp_path / "one.jpg").write_bytes(b"x")
    listing = tmp_path / "locations.txt"
    listing.write_text("# cards to redo\none.jpg\n\ns3://bucket/k.jpg\nhttps://example.com/c.jpg\n", encoding="utf-8")
    source = open_source(str(listing))
    assert isinstance(source, ListFileSource)
    assert [t.location for t in source.tasks()] == [str(tmp_path / "one.jpg"), "s3://bucket/k.jpg",
                                                    "https://example.com/c.jpg"]
    single = open_source(str(tmp_path / "one.jpg"))
    assert isinstance(single, SingleFileSource) and len(list(single.tasks())) == 1


def test_bad_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        open_source(str(tmp_path / "absent"))
    with pytest.raises(SourceError, match="a source is a folder"):
        open_source("ftp://host/x")
    bad_list = tmp_path / "bad.txt"
    bad_list.write_text("gopher://x/y\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"bad.txt:1: unsupported location scheme"):
        list(open_source(str(bad_list)).tasks())


def test_s3_prefix_pages_carry_etags_and_resume_from_a_checkpoint(aws_env: str, unique_name: str,
                                                                 tmp_path: Path) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    keys = [f"cards/{i:04d} card.jpg" for i in range(5)] + ["cards/sub/", "other/x.jpg"]
    for key in keys:
        client.put_object(Bucket=unique_name, Key=key, Body=key.encode())
    source = S3PrefixSource(client, f"s3://{unique_name}/cards/", checkpoint_dir=tmp_path)
    tasks = list(source.tasks())
    assert [t.location for t in tasks] == [f"s3://{unique_name}/cards/{i:04d} card.jpg" for i in range(5)]
    assert all(t.etag for t in tasks)
    assert tasks[0].id == Task.for_location(tasks[0].location, etag=tasks[0].etag).id
    # Enqueued the first three, then interrupted: the next listing starts after the checkpoint.
    source.checkpoint(tasks[:3])
    resumed = S3PrefixSource(client, f"s3://{unique_name}/cards/", checkpoint_dir=tmp_path)
    assert [t.location for t in resumed.tasks()] == [t.location for t in tasks[3:]]
    resumed.clear_checkpoint()
    assert len(list(S3PrefixSource(client, f"s3://{unique_name}/cards/", checkpoint_dir=tmp_path).tasks())) == 5


def test_s3_listing_errors_name_the_source(aws_env: str, unique_name: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    with pytest.raises(SourceError, match=f"cannot list s3://{unique_name}-nope/"):
        list(S3PrefixSource(client, f"s3://{unique_name}-nope/x").tasks())


def _inventory(client: object, bucket: str, rows: list[list[str]], schema: str, fmt: str = "CSV") -> str:
    import csv
    import gzip
    import io
    import json

    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL).writerows(rows)
    base = "inventory/images/daily/2026-11-23T01-00Z"
    client.put_object(Bucket=bucket, Key=f"{base}/files/part-0.csv.gz", Body=gzip.compress(text.getvalue().encode()))
    manifest = {"sourceBucket": "images", "fileFormat": fmt, "fileSchema": schema,
                "files": [{"key": f"{base}/files/part-0.csv.gz", "size": 1, "MD5checksum": "x"}]}
    client.put_object(Bucket=bucket, Key=f"{base}/manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{bucket}/{base}/manifest.json"


def test_s3_inventory_report_gives_the_latest_objects_with_decoded_keys(aws_env: str, unique_name: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    schema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, ETag"
    url = _inventory(client, unique_name, [
        ["images", "cards/0001+card.jpg", "v1", "true", "false", "1200", "e1"],
        ["images", "cards/%E5%8D%A1.jpg", "v1", "true", "false", "900", "e2"],
        ["images", "cards/old.jpg", "v0", "false", "false", "10", "e3"],
        ["images", "cards/gone.jpg", "v2", "true", "true", "", ""],
        ["images", "cards/folder/", "v1", "true", "false", "0", "e4"],
    ], schema)
    source = open_source(url, client=client)
    assert isinstance(source, S3InventorySource)
    tasks = list(source.tasks())
    assert [t.location for t in tasks] == ["s3://images/cards/0001 card.jpg", "s3://images/cards/卡.jpg"]
    assert [t.etag for t in tasks] == ["e1", "e2"]
    assert tasks[0].metadata["size"] == 1200


def test_s3_inventory_errors_are_clear(aws_env: str, unique_name: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    parquet = _inventory(client, unique_name, [], "Bucket, Key", fmt="Parquet")
    with pytest.raises(SourceError, match="configure the inventory report as CSV"):
        list(open_source(parquet, client=client).tasks())
    ragged = _inventory(client, unique_name, [["images", "a.jpg", "extra"]], "Bucket, Key")
    with pytest.raises(SourceError, match="3 fields, the schema has 2"):
        list(open_source(ragged, client=client).tasks())
    with pytest.raises(SourceError, match="cannot read"):
        list(open_source(f"s3://{unique_name}/nothing/manifest.json", client=client).tasks())


def test_s3_inventory_is_streamed_in_pages(aws_env: str, unique_name: str) -> None:
    from worker.sources import PAGE_SIZE

    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=unique_name)
    count = 2 * PAGE_SIZE + 3
    url = _inventory(client, unique_name, [["images", f"cards/{i:05d}.jpg"] for i in range(count)], "Bucket, Key")
    pages = list(open_source(url, client=client).pages())
    assert [len(page) for page in pages] == [PAGE_SIZE, PAGE_SIZE, 3]
    assert pages[-1][-1].location == f"s3://images/cards/{count - 1:05d}.jpg"
