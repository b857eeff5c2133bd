"""`S3Storage`: files in an S3-compatible object store (AWS S3, MinIO, Ceph, R2, ...),
through aiobotocore, the asyncio client of botocore."""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from typing import TYPE_CHECKING, Any

import anyio
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from stackkit.files.storage import (
    CHUNK_SIZE,
    FileTooLarge,
    PresignedUpload,
    Storage,
    StoredFileMissing,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

    from aiobotocore.session import AioSession

__all__ = ["PART_SIZE", "S3Storage"]

PART_SIZE = 8 * 1024 * 1024
"""A file larger than this goes up in parts of this size (S3's least is 5 MiB), so an
upload holds at most one part in memory."""

_MISSING = {"404", "NoSuchKey", "NotFound"}
_VIRTUAL_HOST_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
"""A bucket AWS reaches by its own host name (`bucket.s3.amazonaws.com`)."""


def browser_origins(
    bucket: str, endpoint_url: str | None, region: str | None, session: AioSession
) -> tuple[str, ...]:
    """Where botocore's presigned links and forms for `bucket` point: the endpoint
    (path-style keys) when there is one, else AWS's host of the bucket, global and in
    its region (the region as botocore finds it: given, else the session's
    environment variables, config file or profile)."""
    if endpoint_url:
        parts = urllib.parse.urlsplit(endpoint_url)
        port = f":{parts.port}" if parts.port else ""
        return (f"{parts.scheme}://{parts.hostname}{port}",)
    region = region or session.get_config_variable("region")
    host = f"{bucket}.s3" if _VIRTUAL_HOST_BUCKET.fullmatch(bucket) else "s3"
    hosts = [f"{host}.amazonaws.com"]
    if region and region != "us-east-1":
        hosts.append(f"{host}.{region}.amazonaws.com")
    return tuple(f"https://{name}" for name in hosts)


class S3Storage(Storage):
    """Files in `bucket`, under `prefix`.

    Credentials come from botocore's usual places (`AWS_ACCESS_KEY_ID` and
    `AWS_SECRET_ACCESS_KEY`, a profile, an instance role) unless given. With an
    `endpoint_url` (a store other than AWS), keys go in the path, as those stores
    expect. The bucket must exist.
    """

    presigns_uploads = True

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._session = get_session()  # one for the region here and the client in open()
        self.browser_origins = browser_origins(bucket, endpoint_url, region, self._session)
        self._options: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        }
        self._exit = contextlib.AsyncExitStack()
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The aiobotocore S3 client (once the store is open)."""
        if self._client is None:
            raise RuntimeError("the storage is not open: use it within the app's lifespan")
        return self._client

    async def open(self) -> None:
        client = self._session.create_client("s3", **self._options)
        self._client = await self._exit.enter_async_context(client)

    async def close(self) -> None:
        await self._exit.aclose()
        self._client = None

    async def __aenter__(self) -> S3Storage:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def check(self) -> None:
        await self.client.head_bucket(Bucket=self.bucket)

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_size: int) -> int:
        part = bytearray()
        size = 0
        upload: str | None = None
        parts: list[dict[str, Any]] = []
        name = self.prefix + key
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_size:
                    raise FileTooLarge(max_size)
                part += chunk
                if len(part) >= PART_SIZE:
                    if upload is None:
                        started = await self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=name
                        )
                        upload = started["UploadId"]
                    parts.append(await self._upload_part(name, upload, len(parts) + 1, part))
                    part = bytearray()
            if upload is None:
                await self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(part))
                return size
            if part:
                parts.append(await self._upload_part(name, upload, len(parts) + 1, part))
            await self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            if upload is not None:
                # Shielded: a cancelled request must not leave its parts billed in the
                # bucket (a lifecycle rule for incomplete uploads is the backstop).
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=name, UploadId=upload
                    )
            raise
        return size

    async def _upload_part(
        self, name: str, upload: str, number: int, data: bytearray
    ) -> dict[str, Any]:
        answer = await self.client.upload_part(
            Bucket=self.bucket, Key=name, UploadId=upload, PartNumber=number, Body=bytes(data)
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def read(self, key: str, *, limit: int | None = None) -> AsyncIterator[bytes]:
        options: dict[str, Any] = {"Bucket": self.bucket, "Key": self.prefix + key}
        if limit is not None:
            if limit <= 0:
                return
            options["Range"] = f"bytes=0-{limit - 1}"
        try:
            answer = await self.client.get_object(**options)
        except ClientError as exc:
            if _code(exc) == "InvalidRange":  # an empty file has no byte 0
                return
            if _code(exc) in _MISSING:
                raise StoredFileMissing(key) from None
            raise
        async with answer["Body"] as body:
            async for chunk in body.iter_chunks(CHUNK_SIZE):
                yield chunk

    async def move(self, source: str, target: str) -> None:
        # One CopyObject takes up to 5 GB, the most a file field takes.
        copied = {"Bucket": self.bucket, "Key": self.prefix + source}
        try:
            await self.client.copy_object(
                Bucket=self.bucket, Key=self.prefix + target, CopySource=copied
            )
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise StoredFileMissing(source) from None
            raise
        await self.delete(source)

    async def size(self, key: str) -> int | None:
        try:
            answer = await self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return int(answer["ContentLength"])

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    async def presigned_upload(
        self, key: str, *, max_size: int, expires_in: int
    ) -> PresignedUpload:
        post = await self.client.generate_presigned_post(
            self.bucket,
            self.prefix + key,
            Conditions=[["content-length-range", 1, max_size]],
            ExpiresIn=expires_in,
        )
        return PresignedUpload(url=post["url"], fields=post["fields"], expires_in=expires_in)

    async def presigned_download(
        self, key: str, *, disposition: str, content_type: str, expires_in: int
    ) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": self.prefix + key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
        }
        url: str = await self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in
        )
        return url


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
