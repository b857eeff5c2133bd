"""`LocalStorage`: files in a folder of this machine, the embedded default."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from stackkit.files.storage import CHUNK_SIZE, FileTooLarge, Storage, StoredFileMissing

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["LocalStorage"]


class LocalStorage(Storage):
    """Files under `root` (created when the app starts), one file per key.

    A file is written to a temporary name beside its place and renamed there once
    complete, so a reader never sees half of one. The app serves them itself, after
    its owner check: the folder must not be served by anything else.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    async def open(self) -> None:
        await anyio.Path(self.root).mkdir(parents=True, exist_ok=True)

    async def check(self) -> None:
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"cannot write to {self.root}")

    def path_of(self, key: str) -> Path:
        """Where `key`'s file is; a key that would lead out of the folder is refused."""
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"not a key of this store: {key!r}")
        return path

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_size: int) -> int:
        path = anyio.Path(self.path_of(key))
        await path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        size = 0
        try:
            async with await anyio.open_file(partial, "wb") as file:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        raise FileTooLarge(max_size)
                    await file.write(chunk)
            await partial.rename(path)
        finally:
            await partial.unlink(missing_ok=True)
        return size

    async def read(self, key: str, *, limit: int | None = None) -> AsyncIterator[bytes]:
        left = limit
        try:
            file = await anyio.open_file(self.path_of(key), "rb")
        except FileNotFoundError:
            raise StoredFileMissing(key) from None
        async with file:
            while left is None or left > 0:
                chunk = await file.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    async def move(self, source: str, target: str) -> None:
        target_path = anyio.Path(self.path_of(target))
        await target_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await anyio.Path(self.path_of(source)).rename(target_path)
        except FileNotFoundError:
            raise StoredFileMissing(source) from None

    async def size(self, key: str) -> int | None:
        try:
            return (await anyio.Path(self.path_of(key)).stat()).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await anyio.Path(self.path_of(key)).unlink(missing_ok=True)
