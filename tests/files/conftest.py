"""Storages of each kind: a folder of the test's own, and a bucket of its own on an
S3-protocol server (moto's, on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stackkit.files import LocalStorage, Storage
from stackkit.files.s3 import S3Storage


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "local":
        store: Storage = LocalStorage(tmp_path / "uploads")
    else:
        bucket = request.getfixturevalue("s3_bucket")
        store = S3Storage(bucket.name, **bucket.storage_options())
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def chunks_of(data: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
