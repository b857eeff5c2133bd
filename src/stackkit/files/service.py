"""`Files`: the uploads of an app's file fields, kept in its `Storage` and recorded in
`stackkit_files`.

A file comes in two steps. `start_upload` records it (not yet `ready`) and says
where its bytes go: to the app (`receive`, a local folder) or straight to the
object store (a presigned form, then `complete`). Either way the app then reads the
file's first bytes to learn its type, refuses a type or size its field does not
take, and makes an image's thumbnail. A row then refers to the file by its id
(`attach`); a file no row took is forgotten after a day (`sweep`), and a row's
files go with the row (`delete`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tempfile
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

import anyio
from sqlalchemy import and_, delete, insert, select, update

from stackkit.db.model import utcnow
from stackkit.files.kinds import INLINE_TYPES, SNIFF_BYTES, FileRule, make_thumbnail, sniff
from stackkit.files.storage import FileTooLarge, Storage
from stackkit.files.table import files as files_table

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Iterable

    from stackkit.db import Database
    from stackkit.files.storage import PresignedUpload
    from stackkit.jobs import Job

__all__ = ["FileProblem", "Files", "StoredFile"]

_LINK_PURPOSE = b"stackkit file links v1"
_SPOOL_BYTES = 1024 * 1024


class FileProblem(ValueError):
    """An upload the app refuses: the message says why, `kind` names the case
    (`too_large`, `type`, `not_found`, `expired`, `not_uploaded`)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class StoredFile:
    """A row of `stackkit_files`."""

    id: str
    owner_id: int
    resource: str
    field: str
    name: str
    content_type: str
    size: int
    ready: bool
    thumbnail: bool
    row_id: int | None
    created_at: datetime
    expires_at: datetime | None

    @property
    def key(self) -> str:
        """Where its bytes are in the storage."""
        return f"files/{self.id}"

    @property
    def thumbnail_key(self) -> str:
        """Where its thumbnail is (an image's, in WebP)."""
        return f"thumbnails/{self.id}.webp"

    @property
    def inline(self) -> bool:
        """Served for the browser to show (an image), not as a download."""
        return self.content_type in INLINE_TYPES

    def disposition(self) -> str:
        """Its `Content-Disposition`: the name as uploaded, in ASCII and in UTF-8."""
        kind = "inline" if self.inline else "attachment"
        plain = unicodedata.normalize("NFKD", self.name).encode("ascii", "ignore").decode()
        plain = "".join(c for c in plain if c.isalnum() or c in " ._-()") or "file"
        encoded = urllib.parse.quote(self.name, safe="")
        return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{encoded}"


class Files:
    """The files of an app's resources.

    Args:
        storage: where the bytes go.
        database: where `stackkit_files` is.
        secret: signs the links to files served by the app (local storage).
        upload_ttl: seconds a started upload may take to arrive.
        link_ttl: seconds a link to a file (signed or presigned) works.
        unattached_ttl: seconds an uploaded file waits for a row to refer to it.
    """

    def __init__(
        self,
        storage: Storage,
        database: Database,
        *,
        secret: bytes,
        upload_ttl: int = 900,
        link_ttl: int = 300,
        unattached_ttl: int = 86_400,
    ) -> None:
        self.storage = storage
        self.database = database
        self._link_key = hmac.new(secret, _LINK_PURPOSE, hashlib.sha256).digest()
        self.upload_ttl = upload_ttl
        self.link_ttl = link_ttl
        self.unattached_ttl = unattached_ttl
        self.delete_job: Job[Any] | None = None
        """The job that deletes files (`file_jobs`), when the app has a queue."""

    # Uploading

    async def start_upload(
        self, *, owner_id: int, resource: str, field: str, rule: FileRule, name: str, size: int
    ) -> tuple[StoredFile, PresignedUpload | None]:
        """Record a file about to be uploaded; return it and, when the storage takes
        uploads straight from browsers, the form to post it with (else the bytes go
        to `receive`).

        Raises:
            FileProblem: `size` is over the field's limit.
        """
        if size > rule.max_size:
            raise FileProblem(f"the file is larger than {rule.max_size} bytes", "too_large")
        now = utcnow()
        values: dict[str, Any] = {
            "id": secrets.token_urlsafe(18), "owner_id": owner_id, "resource": resource,
            "field": field, "name": _clean_name(name), "content_type": "application/octet-stream",
            "size": 0, "ready": False, "thumbnail": False, "row_id": None,
            "created_at": now, "expires_at": now + timedelta(seconds=self.upload_ttl),
        }  # fmt: skip
        async with self.database.session() as session:
            await session.execute(insert(files_table).values(values))
        record = StoredFile(**values)
        presigned = await self.storage.presigned_upload(
            record.key, max_size=rule.max_size, expires_in=self.upload_ttl
        )
        return record, presigned

    async def receive(
        self, file_id: str, *, owner_id: int, rule: FileRule, chunks: AsyncIterable[bytes]
    ) -> StoredFile:
        """Take a started upload's bytes as they arrive, then check and finish it.

        Raises:
            FileProblem: not an upload this owner started (or it expired), too large,
                or of a type the field does not take.
        """
        record = await self._pending(file_id, owner_id)
        head = bytearray()

        async def sniffed() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                if len(head) < SNIFF_BYTES:
                    head.extend(chunk[: SNIFF_BYTES - len(head)])
                yield chunk

        try:
            size = await self.storage.write(record.key, sniffed(), max_size=rule.max_size)
        except FileTooLarge as exc:
            raise FileProblem(str(exc), "too_large") from None
        return await self._finish(record, rule, bytes(head), size)

    async def complete(self, file_id: str, *, owner_id: int, rule: FileRule) -> StoredFile:
        """Check and finish an upload that went straight to the storage (a finished
        one is returned as it is).

        Raises:
            FileProblem: not this owner's upload, expired, nothing uploaded, too large,
                or of a type the field does not take.
        """
        record = await self.get(file_id)
        if record is not None and record.ready and record.owner_id == owner_id:
            return record
        record = await self._pending(file_id, owner_id)
        size = await self.storage.size(record.key)
        if size is None:
            raise FileProblem("nothing was uploaded for this file", "not_uploaded")
        if size > rule.max_size:
            await self.storage.delete(record.key)
            raise FileProblem(f"the file is larger than {rule.max_size} bytes", "too_large")
        head = await self.storage.head(record.key, SNIFF_BYTES)
        return await self._finish(record, rule, head, size)

    async def _pending(self, file_id: str, owner_id: int) -> StoredFile:
        record = await self.get(file_id)
        if record is None or record.owner_id != owner_id or record.ready:
            raise FileProblem("no upload of yours with this id", "not_found")
        if record.expires_at is not None and record.expires_at <= utcnow():
            raise FileProblem("this upload expired: start another", "expired")
        return record

    async def _finish(
        self, record: StoredFile, rule: FileRule, head: bytes, size: int
    ) -> StoredFile:
        content_type = sniff(head, record.name)
        if not rule.allows(content_type):
            await self.storage.delete(record.key)
            taken = ", ".join(rule.allowed_types)
            raise FileProblem(f"a {content_type} file is not taken here; give {taken}", "type")
        thumbnail = False
        if rule.image:
            await self._make_thumbnail(record, content_type)
            thumbnail = True
        changes = {
            "content_type": content_type, "size": size, "ready": True, "thumbnail": thumbnail,
            "expires_at": utcnow() + timedelta(seconds=self.unattached_ttl),
        }  # fmt: skip
        async with self.database.session() as session:
            await session.execute(
                update(files_table).where(files_table.c.id == record.id).values(changes)
            )
        return StoredFile(**{**record.__dict__, **changes})

    async def _make_thumbnail(self, record: StoredFile, content_type: str) -> None:
        """Spool the image to a temporary file (on disk past a megabyte) and make its
        thumbnail in a thread."""
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            async for chunk in self.storage.read(record.key):
                spool.write(chunk)
            spool.seek(0)
            source: IO[bytes] = spool
            try:
                thumbnail = await anyio.to_thread.run_sync(make_thumbnail, source, content_type)
            except ValueError as exc:
                await self.storage.delete(record.key)
                raise FileProblem(str(exc), "type") from None

        async def one(data: bytes) -> AsyncIterator[bytes]:
            yield data

        await self.storage.write(record.thumbnail_key, one(thumbnail), max_size=len(thumbnail))

    # Rows and their files

    async def get(self, file_id: str) -> StoredFile | None:
        """The file with this id, or None."""
        async with self.database.session(read_only=True) as session:
            found = (
                await session.execute(select(files_table).where(files_table.c.id == file_id))
            ).first()
        return None if found is None else StoredFile(**found._mapping)

    async def attachable(
        self, file_id: str, *, owner_id: int, resource: str, field: str, row_id: int | None = None
    ) -> str | None:
        """Why `owner_id` may not make a row of `resource` (`row_id`, when it exists)
        refer to this file in `field`, or None when they may: it must be one they
        uploaded for this field, finished, and no other row's."""
        record = await self.get(file_id) if 0 < len(file_id) <= 32 else None
        if record is None or record.owner_id != owner_id:
            return "no file of yours with this id"
        if (record.resource, record.field) != (resource, field):
            return f"this file was uploaded for {record.resource}.{record.field}"
        if not record.ready:
            return "this file's upload is not finished"
        if record.row_id is not None and record.row_id != row_id:
            return "this file belongs to another row"
        return None

    async def attach(self, resource: str, row_id: int, file_ids: Iterable[str]) -> None:
        """The row now refers to these files: they stay while it does."""
        async with self.database.session() as session:
            await session.execute(
                update(files_table)
                .where(files_table.c.id.in_(list(file_ids)), files_table.c.resource == resource)
                .where(files_table.c.row_id.is_(None))
                .values(row_id=row_id, expires_at=None)
            )

    async def of_rows(self, resource: str, row_ids: Iterable[int]) -> list[str]:
        """The ids of the files these rows of `resource` hold."""
        async with self.database.session(read_only=True) as session:
            result = await session.scalars(
                select(files_table.c.id).where(
                    files_table.c.resource == resource, files_table.c.row_id.in_(list(row_ids))
                )
            )
            return list(result)

    async def delete(self, file_ids: Iterable[str]) -> int:
        """Delete these files' bytes, thumbnails and records; return how many there were."""
        ids = list(file_ids)
        if not ids:
            return 0
        async with self.database.session(read_only=True) as session:
            records = [
                StoredFile(**row._mapping)
                for row in await session.execute(
                    select(files_table).where(files_table.c.id.in_(ids))
                )
            ]
        for record in records:
            await self.storage.delete(record.key)
            if record.thumbnail:
                await self.storage.delete(record.thumbnail_key)
        async with self.database.session() as session:
            await session.execute(delete(files_table).where(files_table.c.id.in_(ids)))
        return len(records)

    async def discard(self, file_ids: Iterable[str]) -> None:
        """Delete these files through the job queue when the app has one (the row's
        change does not wait on the storage, and a failure is retried), else now."""
        ids = list(file_ids)
        if not ids:
            return
        if self.delete_job is not None:
            await self.delete_job.defer(file_ids=ids)
        else:
            await self.delete(ids)

    async def sweep(self) -> int:
        """Delete the files no row took in time (and uploads never finished)."""
        async with self.database.session(read_only=True) as session:
            expired = list(
                await session.scalars(
                    select(files_table.c.id).where(
                        and_(files_table.c.row_id.is_(None), files_table.c.expires_at <= utcnow())
                    )
                )
            )
        return await self.delete(expired)

    # Links

    async def link(self, record: StoredFile, *, thumbnail: bool = False) -> str:
        """An address the browser may read the file (or its thumbnail) at for
        `link_ttl` seconds, without a token: the store's own when it presigns, else
        the app's `/api/files/...`, signed."""
        key = record.thumbnail_key if thumbnail else record.key
        content_type = "image/webp" if thumbnail else record.content_type
        presigned = await self.storage.presigned_download(
            key, disposition=record.disposition(), content_type=content_type,
            expires_in=self.link_ttl,
        )  # fmt: skip
        if presigned is not None:
            return presigned
        variant = "thumbnail" if thumbnail else "file"
        expires = int(time.time()) + self.link_ttl
        signature = self._signature(record.id, variant, expires)
        return f"/api/files/{record.id}/{variant}?expires={expires}&signature={signature}"

    def link_is_valid(self, file_id: str, variant: str, expires: int, signature: str) -> bool:
        """Whether a link `link` made is genuine and not yet expired."""
        if expires < time.time():
            return False
        return hmac.compare_digest(self._signature(file_id, variant, expires), signature)

    def _signature(self, file_id: str, variant: str, expires: int) -> str:
        message = f"{file_id}\n{variant}\n{expires}".encode()
        return hmac.new(self._link_key, message, hashlib.sha256).hexdigest()

    def describe(self, record: StoredFile) -> dict[str, Any]:
        """The file as the API shows it."""
        return {
            "id": record.id, "name": record.name, "size": record.size,
            "content_type": record.content_type, "thumbnail": record.thumbnail,
        }  # fmt: skip


def _clean_name(name: str) -> str:
    """The file's name as uploaded, without folders or control characters, at most 255
    characters ("file" when nothing is left)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return base[-255:] or "file"
