"""The `Storage` contract, on a local folder and on an S3-protocol server."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from botocore.exceptions import ClientError

from stackkit.files import FileTooLarge, LocalStorage, Storage, StoredFileMissing
from stackkit.files.s3 import PART_SIZE, S3Storage
from stackkit.testing import S3Bucket
from tests.files.conftest import chunks_of


async def read_all(storage: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key)])


async def test_a_file_written_in_chunks_reads_back_whole(storage: Storage) -> None:
    data = os.urandom(200_000)
    assert await storage.write("files/a", chunks_of(data), max_size=len(data)) == len(data)
    assert await read_all(storage, "files/a") == data
    assert await storage.size("files/a") == len(data)
    assert await storage.head("files/a", 10) == data[:10]
    assert await storage.head("files/a", 10**6) == data


async def test_writing_again_replaces_the_file(storage: Storage) -> None:
    await storage.write("files/a", chunks_of(b"first"), max_size=100)
    await storage.write("files/a", chunks_of(b"second"), max_size=100)
    assert await read_all(storage, "files/a") == b"second"


async def test_an_empty_file(storage: Storage) -> None:
    assert await storage.write("files/empty", chunks_of(b""), max_size=10) == 0
    assert await storage.size("files/empty") == 0
    assert await storage.head("files/empty", 10) == b""


async def test_a_missing_file(storage: Storage) -> None:
    assert await storage.size("files/none") is None
    with pytest.raises(StoredFileMissing):
        await read_all(storage, "files/none")
    await storage.delete("files/none")  # nothing to delete is not an error


async def test_deleting_a_file(storage: Storage) -> None:
    await storage.write("files/a", chunks_of(b"bytes"), max_size=100)
    await storage.delete("files/a")
    assert await storage.size("files/a") is None


@pytest.mark.parametrize("size", [101, PART_SIZE + 1], ids=["small", "past-one-part"])
async def test_a_file_over_the_limit_is_refused_and_nothing_kept(
    storage: Storage, size: int, tmp_path: Path
) -> None:
    await storage.write("files/a", chunks_of(b"kept"), max_size=100)
    with pytest.raises(FileTooLarge):
        await storage.write("files/a", chunks_of(b"x" * size, 1 << 20), max_size=size - 1)
    assert await read_all(storage, "files/a") == b"kept"  # the old file is untouched
    if isinstance(storage, LocalStorage):
        assert [p.name for p in (storage.root / "files").iterdir()] == ["a"]  # no partial left


async def test_a_file_of_several_parts(storage: Storage) -> None:
    data = os.urandom(2 * PART_SIZE + 12_345)
    assert await storage.write("files/big", chunks_of(data, 1 << 20), max_size=len(data)) == len(
        data
    )
    assert await storage.size("files/big") == len(data)
    assert await read_all(storage, "files/big") == data


@pytest.mark.parametrize("key", ["../outside", "files/../../outside", "/etc/passwd", "", "."])
def test_a_local_key_never_leads_out_of_its_folder(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "uploads")
    with pytest.raises(ValueError, match="not a key of this store"):
        storage.path_of(key)


async def test_local_storage_goes_through_the_app(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "uploads")
    assert await storage.presigned_upload("files/a", max_size=10, expires_in=60) is None
    kind = "attachment"
    assert (
        await storage.presigned_download(
            "files/a", disposition=kind, content_type="text/plain", expires_in=60
        )
        is None
    )


async def test_s3_presigns_an_upload_form_bound_to_the_key_size_and_time(
    s3_bucket: S3Bucket,
) -> None:
    bucket = s3_bucket
    async with S3Storage(bucket.name, **bucket.storage_options()) as storage:
        before = time.time()
        form = await storage.presigned_upload("files/up", max_size=1000, expires_in=120)
        assert form is not None
        assert form.expires_in == 120
        policy = json.loads(base64.b64decode(form.fields["policy"]))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        assert before + 119 <= expiration.timestamp() <= time.time() + 121
        assert ["content-length-range", 1, 1000] in policy["conditions"]
        assert {"key": "files/up"} in policy["conditions"]
        # The browser posts the form, then the file.
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                form.url, data=form.fields, files={"file": ("a.txt", b"uploaded")}
            )
        assert answer.status_code in (200, 201, 204), answer.text
        assert await storage.head("files/up", 100) == b"uploaded"


async def test_s3_presigns_a_download_for_a_while(s3_bucket: S3Bucket) -> None:
    bucket = s3_bucket
    async with S3Storage(bucket.name, prefix="app/", **bucket.storage_options()) as storage:
        await storage.write("files/a", chunks_of(b"content"), max_size=100)
        url = await storage.presigned_download(
            "files/a", disposition='attachment; filename="a.txt"', content_type="text/plain",
            expires_in=60,
        )  # fmt: skip
        query = parse_qs(urlsplit(url).query)
        assert urlsplit(url).path.endswith("/app/files/a")  # under the prefix
        assert query["X-Amz-Expires"] == ["60"]
        async with httpx.AsyncClient() as client:
            answer = await client.get(url)
        assert answer.content == b"content"
        assert answer.headers["content-disposition"] == 'attachment; filename="a.txt"'


async def test_s3_check_fails_for_a_missing_bucket(s3_bucket: S3Bucket) -> None:
    bucket = s3_bucket
    async with S3Storage("no-such-bucket-here", **bucket.storage_options()) as storage:
        with pytest.raises(ClientError, match=r"404|Not Found|NoSuchBucket"):
            await storage.check()


@pytest.mark.parametrize(
    ("bucket", "endpoint_url", "region"),
    [
        ("uploads", None, None),
        ("uploads", None, "us-east-1"),
        ("uploads", None, "eu-central-1"),
        ("my.dotted.bucket", None, "eu-west-3"),
        ("uploads", "http://127.0.0.1:9000", "eu-central-1"),
        ("uploads", "https://minio.example.com:8443/", None),
        ("uploads", "https://key:secret@minio.example.com/", None),
    ],
)
async def test_s3_names_the_origins_its_presigned_links_and_forms_point_at(
    bucket: str, endpoint_url: str | None, region: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's Content-Security-Policy allows these origins: one botocore would not
    # use would leave browsers unable to upload or show an image.
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    storage = S3Storage(
        bucket, endpoint_url=endpoint_url, region=region,
        access_key_id="test", secret_access_key="test",
    )  # fmt: skip
    async with storage:  # builds the client: no request is sent
        form = await storage.presigned_upload("uploads/a", max_size=10, expires_in=60)
        link = await storage.presigned_download(
            "files/a", disposition="inline", content_type="image/png", expires_in=60
        )
    for url in (form.url, link):
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        assert f"{parts.scheme}://{parts.hostname}{port}" in storage.browser_origins, url
    assert not any("@" in origin for origin in storage.browser_origins)
