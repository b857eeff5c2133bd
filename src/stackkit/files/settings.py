"""The storage an app's settings name (`STACKKIT_STORAGE_URL`)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from stackkit.files.local import LocalStorage

if TYPE_CHECKING:
    from stackkit.files.storage import Storage
    from stackkit.settings import Settings

__all__ = ["storage_from_settings"]


def storage_from_settings(settings: Settings) -> Storage:
    """`s3://bucket/prefix` -> `S3Storage`; anything else is a local folder.

    Raises:
        ValueError: an `s3://` URL without a bucket.
    """
    url = settings.storage_url
    if not url.startswith("s3://"):
        return LocalStorage(url)
    from stackkit.files.s3 import S3Storage  # here: botocore loads only when it is used

    parts = urlsplit(url)
    if not parts.netloc:
        raise ValueError(f"STACKKIT_STORAGE_URL names no bucket: {url!r}")
    prefix = parts.path.strip("/")
    return S3Storage(
        parts.netloc,
        prefix=f"{prefix}/" if prefix else "",
        endpoint_url=settings.s3_endpoint_url or None,
    )
