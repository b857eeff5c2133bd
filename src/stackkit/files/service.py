"""`Files`: the uploads of an app's file fields, kept in its `Storage` and recorded in
`stackkit_files`.

A file comes in two steps. `start_upload` records it (`pending`) and says where its
bytes go: to the app (`receive`, a local folder) or straight to the object store (a
presigned form for a staging key, then `complete`, which moves the bytes to their
place, so a form posted again cannot change a file once checked). One request at a
time takes an upload (`receiving`). The app reads the file's first bytes to learn
its type, refuses a type or size its field does not take, and makes an image's
thumbnail; the file is then `ready`.

A row takes files in three moves: `claim` them (only ready files of the caller's,
for that field, that no row holds; a claim is a token in `row_id`, so two rows can
never both take a file), write the row, then `attach` the claimed files to it (or
`release` them if the write failed). A row's replaced or deleted files are `discard`ed:
their records go at once, their bytes through the job queue. `sweep` forgets
uploads no row took in time, and files whose row is gone.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import unicodedata
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, NamedTuple

import anyio
from sqlalchemy import and_, delete, exists, insert, or_, select, update

from stackkit.db.model import MAX_INT, utcnow
from stackkit.files.kinds import INLINE_TYPES, SNIFF_BYTES, FileRule, make_thumbnail, sniff
from stackkit.files.links import FileLinks
from stackkit.files.storage import FileTooLarge, Storage
from stackkit.files.table import files as files_table

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping

    from sqlalchemy import Table

    from stackkit.db import Database
    from stackkit.files.storage import PresignedUpload
    from stackkit.jobs import Job

__all__ = ["PENDING", "READY", "RECEIVING", "FileProblem", "Files", "StoredFile"]

PENDING, RECEIVING, READY = "pending", "receiving", "ready"
_SPOOL_BYTES = 1024 * 1024
_THUMBNAILS_AT_ONCE = 2
"""Images decoded at once: a small file can unpack into hundreds of megabytes."""

logger = logging.getLogger("stackkit.files")


class FileProblem(ValueError):
    """An upload the app refuses: the message says why, `kind` names the case
    (`too_large`, `type`, `not_found`, `expired`, `not_uploaded`, `busy`)."""

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
    state: str
    thumbnail: bool
    row_id: int | None
    created_at: datetime
    expires_at: datetime | None

    @property
    def key(self) -> str:
        """Where its bytes are in the storage."""
        return keys_of(self.id).file

    @property
    def thumbnail_key(self) -> str:
        """Where its thumbnail is (an image's, in WebP)."""
        return keys_of(self.id).thumbnail

    @property
    def staging_key(self) -> str:
        """Where a browser's presigned upload puts its bytes until `complete`."""
        return keys_of(self.id).staging

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


class FileKeys(NamedTuple):
    """Every key a file may have in the storage."""

    file: str
    thumbnail: str
    """An image's thumbnail, in WebP."""
    staging: str
    """Where a browser's presigned upload puts the bytes until they are checked."""


def keys_of(file_id: str) -> FileKeys:
    """The keys of the file with this id."""
    return FileKeys(f"files/{file_id}", f"thumbnails/{file_id}.webp", f"uploads/{file_id}")


class Files:
    """The files of an app's resources.

    Args:
        storage: where the bytes go.
        database: where `stackkit_files` is.
        secret: signs the links to files served by the app (local storage).
        upload_ttl: seconds a started upload may take to arrive.
        link_ttl: seconds a link to a file (signed or presigned) works.
        unattached_ttl: seconds an uploaded file waits for a row to refer to it.
        tables: the table of each resource with file fields, by resource name, for
            `sweep` to find files whose row is gone.
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
        tables: Mapping[str, Table] | None = None,
    ) -> None:
        self.storage = storage
        self.database = database
        self.links = FileLinks(secret)
        self.upload_ttl = upload_ttl
        self.link_ttl = link_ttl
        self.unattached_ttl = unattached_ttl
        self.tables = dict(tables or {})
        self.delete_job: Job[Any] | None = None
        """The job that deletes files' bytes (`file_jobs`), when the app has a queue."""
        self._thumbnailing: anyio.CapacityLimiter | None = None

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
            "size": 0, "state": PENDING, "thumbnail": False, "row_id": None,
            "created_at": now, "expires_at": now + timedelta(seconds=self.upload_ttl),
        }  # fmt: skip
        async with self.database.session() as session:
            await session.execute(insert(files_table).values(values))
        record = StoredFile(**values)
        presigned = await self.storage.presigned_upload(
            record.staging_key, max_size=rule.max_size, expires_in=self.upload_ttl
        )
        return record, presigned

    async def receive(
        self,
        file_id: str,
        *,
        owner_id: int,
        resource: str,
        field: str,
        rule: FileRule,
        chunks: AsyncIterable[bytes],
    ) -> StoredFile:
        """Take a started upload's bytes as they arrive, then check and finish it. An
        upload that fails here (refused, cut off) is forgotten: start another.

        Raises:
            FileProblem: not an upload this owner started for this field (or it
                expired, or another request is sending it), too large, or of a type
                the field does not take.
        """
        record = await self._take(await self.get(file_id), owner_id, resource, field)
        head = bytearray()

        async def sniffed() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                if len(head) < SNIFF_BYTES:
                    head.extend(chunk[: SNIFF_BYTES - len(head)])
                yield chunk

        try:
            try:
                size = await self.storage.write(record.key, sniffed(), max_size=rule.max_size)
            except FileTooLarge as exc:
                raise FileProblem(str(exc), "too_large") from None
            return await self._finish(record, rule, bytes(head), size)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.delete([record.id])
            raise

    async def complete(
        self, file_id: str, *, owner_id: int, resource: str, field: str, rule: FileRule
    ) -> StoredFile:
        """Check and finish an upload that went straight to the storage (a finished
        one is returned as it is). Its bytes move from the staging key to their place
        first, so the presigned form cannot change them afterwards.

        Raises:
            FileProblem: not this owner's upload for this field, expired, nothing
                uploaded yet (try again), too large, or of a type the field does not take.
        """
        found = await self.get(file_id)
        if (
            found is not None
            and found.state == READY
            and (found.owner_id, found.resource, found.field) == (owner_id, resource, field)
        ):
            return found
        record = await self._take(found, owner_id, resource, field)
        try:
            if await self.storage.size(record.staging_key) is None:
                await self._set_state(record.id, PENDING)
                raise FileProblem("nothing was uploaded for this file yet", "not_uploaded")
            await self.storage.move(record.staging_key, record.key)
            size = await self.storage.size(record.key) or 0
            if size > rule.max_size:
                raise FileProblem(f"the file is larger than {rule.max_size} bytes", "too_large")
            head = await self.storage.head(record.key, SNIFF_BYTES)
            return await self._finish(record, rule, head, size)
        except FileProblem as problem:
            if problem.kind != "not_uploaded":
                await self.delete([record.id])
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.delete([record.id])
            raise

    async def _take(
        self, record: StoredFile | None, owner_id: int, resource: str, field: str
    ) -> StoredFile:
        """Make this pending upload (as read) `receiving`, for this request alone."""
        if record is None or (record.owner_id, record.resource, record.field) != (
            owner_id, resource, field,
        ) or record.state == READY:  # fmt: skip
            raise FileProblem("no upload of yours for this field with this id", "not_found")
        if record.expires_at is not None and record.expires_at <= utcnow():
            raise FileProblem("this upload expired: start another", "expired")
        async with self.database.session() as session:
            taken = await session.execute(
                update(files_table)
                .where(files_table.c.id == record.id, files_table.c.state == PENDING)
                .values(state=RECEIVING)
            )
        if getattr(taken, "rowcount", 0) != 1:
            raise FileProblem("this upload is being received already", "busy")
        return record

    async def _set_state(self, file_id: str, state: str) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(files_table).where(files_table.c.id == file_id).values(state=state)
            )

    async def _finish(
        self, record: StoredFile, rule: FileRule, head: bytes, size: int
    ) -> StoredFile:
        content_type = sniff(head, record.name, complete=size <= len(head))
        if not rule.allows(content_type):
            taken = ", ".join(rule.allowed_types)
            raise FileProblem(f"a {content_type} file is not taken here; give {taken}", "type")
        if rule.image:
            await self._make_thumbnail(record, content_type)
        changes = {
            "content_type": content_type, "size": size, "state": READY, "thumbnail": rule.image,
            "expires_at": utcnow() + timedelta(seconds=self.unattached_ttl),
        }  # fmt: skip
        async with self.database.session() as session:
            await session.execute(
                update(files_table)
                .where(files_table.c.id == record.id, files_table.c.state == RECEIVING)
                .values(changes)
            )
        return StoredFile(**{**record.__dict__, **changes})

    async def _make_thumbnail(self, record: StoredFile, content_type: str) -> None:
        """Spool the image to a temporary file (on disk past a megabyte) and make its
        thumbnail in a thread, a few images at a time."""
        if self._thumbnailing is None:
            self._thumbnailing = anyio.CapacityLimiter(_THUMBNAILS_AT_ONCE)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            async for chunk in self.storage.read(record.key):
                spool.write(chunk)
            spool.seek(0)
            source: IO[bytes] = spool
            try:
                thumbnail = await anyio.to_thread.run_sync(
                    make_thumbnail, source, content_type, limiter=self._thumbnailing
                )
            except ValueError as exc:
                raise FileProblem(str(exc), "type") from None

        async def one(data: bytes) -> AsyncIterator[bytes]:
            yield data

        await self.storage.write(record.thumbnail_key, one(thumbnail), max_size=len(thumbnail))

    # Rows and their files

    async def get(self, file_id: str) -> StoredFile | None:
        """The file with this id, or None."""
        if not 0 < len(file_id) <= 32:
            return None
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
        record = await self.get(file_id)
        if record is None or record.owner_id != owner_id:
            return "no file of yours with this id"
        if (record.resource, record.field) != (resource, field):
            return f"this file was uploaded for {record.resource}.{record.field}"
        if record.state != READY:
            return "this file's upload is not finished"
        if record.row_id is not None and record.row_id != row_id:
            return "this file belongs to another row"
        return None

    async def claim(self, resource: str, owner_id: int, file_ids: Iterable[str]) -> int | None:
        """Claim these ready, unheld files of `owner_id`'s for a row about to be
        written; return the claim's token (None for no files), for `attach` or
        `release`.

        Raises:
            FileProblem: another row took one of them meanwhile (nothing stays claimed).
        """
        ids = sorted(set(file_ids))
        if not ids:
            return None
        token = -1 - secrets.randbelow(MAX_INT)  # never a row's id
        async with self.database.session() as session:
            claimed = await session.execute(
                update(files_table)
                .where(
                    files_table.c.id.in_(ids),
                    files_table.c.resource == resource,
                    files_table.c.owner_id == owner_id,
                    files_table.c.state == READY,
                    files_table.c.row_id.is_(None),
                )
                .values(row_id=token)
            )
            if getattr(claimed, "rowcount", 0) != len(ids):
                await session.rollback()
                raise FileProblem("this file belongs to another row", "taken")
        return token

    async def attach(self, token: int | None, row_id: int) -> None:
        """The claimed files now belong to the row: they stay while it holds them."""
        if token is not None:
            await self._move_claim(token, row_id=row_id, expires_at=None)

    async def release(self, token: int | None) -> None:
        """The row was not written: the claimed files wait for another, as before."""
        if token is not None:
            expires = utcnow() + timedelta(seconds=self.unattached_ttl)
            await self._move_claim(token, row_id=None, expires_at=expires)

    async def _move_claim(self, token: int, **values: Any) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(files_table).where(files_table.c.row_id == token).values(values)
            )

    async def discard(
        self, resource: str, row_id: int, file_ids: Iterable[str] | None = None
    ) -> None:
        """Forget the files this row holds (those of `file_ids`, or all): their records
        go now, their bytes through the job queue when the app has one (the row's
        change does not wait on the storage, and a failure is retried), else now."""
        held = (files_table.c.resource == resource) & (files_table.c.row_id == row_id)
        if file_ids is not None:
            held &= files_table.c.id.in_(list(file_ids))
        async with self.database.session() as session:
            gone = delete(files_table).where(held).returning(files_table.c.id)
            ids = list(await session.scalars(gone))
        await self.delete_bytes(ids)

    async def delete_bytes(self, file_ids: list[str]) -> None:
        """Delete the stored bytes of these files (their records are gone): through the
        job queue when the app has one, else now (a failure is logged)."""
        if not file_ids:
            return
        if self.delete_job is not None:
            await self.delete_job.defer(file_ids=file_ids)
            return
        try:
            await self.delete_stored(file_ids)
        except Exception:
            logger.exception("The bytes of %d deleted files were not deleted", len(file_ids))

    async def delete_stored(self, file_ids: Iterable[str]) -> None:
        """Delete every key of these files from the storage (what the job runs)."""
        for file_id in file_ids:
            for key in keys_of(file_id):
                await self.storage.delete(key)

    async def delete(self, file_ids: Iterable[str]) -> int:
        """Delete these files, records and bytes, whichever row holds them; return how
        many records there were."""
        ids = list(file_ids)
        if not ids:
            return 0
        async with self.database.session() as session:
            deleted = list(
                await session.scalars(
                    delete(files_table).where(files_table.c.id.in_(ids)).returning(files_table.c.id)
                )
            )
        await self.delete_stored(ids)
        return len(deleted)

    async def sweep(self) -> int:
        """Delete the uploads no row took in time (finished or not, or claimed by a
        request that never ended), and the files of rows deleted without their
        resource's route (a cascade, SQL of your own)."""
        unheld = or_(files_table.c.row_id.is_(None), files_table.c.row_id < 0)
        gone = [
            and_(
                files_table.c.resource == resource,
                files_table.c.row_id > 0,
                ~exists().where(table.c.id == files_table.c.row_id),
            )
            for resource, table in self.tables.items()
        ]
        stale = and_(unheld, files_table.c.expires_at <= utcnow())
        async with self.database.session(read_only=True) as session:
            ids = list(await session.scalars(select(files_table.c.id).where(or_(stale, *gone))))
        return await self.delete(ids)

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
        return self.links.path(record.id, "thumbnail" if thumbnail else "file", self.link_ttl)

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
