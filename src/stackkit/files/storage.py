"""The `Storage` contract: where uploaded files' bytes live, by key.

Two stores stand behind it: `LocalStorage` (a folder on this machine, the embedded
default) and `S3Storage` (any S3-compatible object store, for production). Both
stream: a file goes in and comes out in chunks, never whole in memory.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stackkit.backends import Backend

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["CHUNK_SIZE", "FileTooLarge", "PresignedUpload", "Storage", "StoredFileMissing"]

CHUNK_SIZE = 64 * 1024
"""The size of the chunks a store reads and writes."""


class StoredFileMissing(LookupError):
    """No file is stored under this key."""


class FileTooLarge(ValueError):
    """The bytes given to `Storage.write` went past its `max_size`; nothing was kept."""

    def __init__(self, max_size: int) -> None:
        super().__init__(f"the file is larger than {max_size} bytes")
        self.max_size = max_size


@dataclass(frozen=True)
class PresignedUpload:
    """What a browser needs to upload one file straight to the store: an HTML form
    POST of `fields` and then the file (as the field `file`) to `url`."""

    url: str
    fields: dict[str, str] = field(default_factory=dict)
    expires_in: int = 0
    """Seconds the upload stays allowed."""


class Storage(Backend):
    """A store of files by key (`files/3f9c...`), opened and checked with the app."""

    name = "storage"
    presigns_uploads: bool = False
    """Whether browsers upload straight to the store (`presigned_upload` gives a form);
    the app then takes no bytes itself."""
    browser_origins: tuple[str, ...] = ()
    """The origins a browser reaches the store at, through presigned links and forms:
    the app's Content-Security-Policy allows them (`connect-src`, `img-src`)."""

    @abc.abstractmethod
    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_size: int) -> int:
        """Store the bytes of `chunks` under `key`, replacing what was there; return how
        many there were.

        Raises:
            FileTooLarge: past `max_size` bytes; `key` keeps what it had.
        """

    @abc.abstractmethod
    def read(self, key: str, *, limit: int | None = None) -> AsyncIterator[bytes]:
        """The bytes stored under `key` in chunks (the first `limit` of them, if given).

        Raises:
            StoredFileMissing: nothing is stored under `key` (on the first chunk).
        """

    @abc.abstractmethod
    async def size(self, key: str) -> int | None:
        """How many bytes are stored under `key`, or None when nothing is."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Forget `key`'s bytes; nothing happens when there are none."""

    @abc.abstractmethod
    async def move(self, source: str, target: str) -> None:
        """Put the bytes under `source` under `target` (replacing what was there) and
        forget `source`.

        Raises:
            StoredFileMissing: nothing is stored under `source`.
        """

    async def head(self, key: str, length: int) -> bytes:
        """The first `length` bytes under `key` (fewer if the file is shorter)."""
        return b"".join([chunk async for chunk in self.read(key, limit=length)])

    async def presigned_upload(
        self, key: str, *, max_size: int, expires_in: int
    ) -> PresignedUpload | None:
        """A form a browser can post the file with, straight to the store, or None when
        uploads go through the app (a local folder)."""
        return None

    async def presigned_download(
        self, key: str, *, disposition: str, content_type: str, expires_in: int
    ) -> str | None:
        """An address the browser can read the file at for `expires_in` seconds, served
        with this `Content-Disposition` and `Content-Type`, or None when downloads go
        through the app."""
        return None
