"""The routes of a resource's file fields, and the app's route that serves files
through signed links.

    POST /api/notes/files/photo                    {name, size} -> where to send the bytes
    PUT  /api/notes/files/photo/{file_id}          the bytes (when the app stores them)
    POST /api/notes/files/photo/{file_id}/complete after a presigned upload to the store
    GET  /api/notes/{id}/files/photo               links to the row's file and thumbnail
    GET  /api/files/{file_id}/{file|thumbnail}     a signed link's bytes (local storage)

An upload belongs to whoever made it, and a row may refer only to its maker's
finished uploads for that field (`check_files`). The links are handed out after
the row's own check (the caller must see the row), last a few minutes, and need no
token, so that `<img src>` and downloads work as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from stackkit.db.model import MAX_ID
from stackkit.errors import FieldError, ProblemError, ValidationProblem, field_error
from stackkit.files.service import FileProblem, Files
from stackkit.files.storage import StoredFileMissing
from stackkit.http.routing import Controller

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackkit.db.service import Service
    from stackkit.files.kinds import FileRule

__all__ = [
    "FILE_ID_PATTERN",
    "add_file_routes",
    "files_claimed",
    "files_controller",
    "upload_limits",
]

FILE_ID_PATTERN = r"[A-Za-z0-9_-]{1,32}"


class FileResource(Protocol):
    """What the file routes need of a resource (`stackkit.resources.Resource`)."""

    name: str
    prefix: str
    roles: tuple[str, ...]
    write_roles: tuple[str, ...]

    @property
    def file_fields(self) -> Mapping[str, FileRule]: ...

    def owner_of(self, request: Request) -> int: ...

    def service_for(self, request: Request) -> Service[Any]: ...

    def rate_limit_for(self, action: str) -> str | bool | None: ...


_STATUS = {
    "too_large": 413, "type": 415, "not_found": 404, "expired": 410, "not_uploaded": 409,
    "busy": 409,
}  # fmt: skip


class UploadIn(BaseModel):
    name: str = Field(min_length=1, max_length=1000, description="The file's name.")
    size: int = Field(ge=0, le=2**53, description="The file's size in bytes.")


class UploadOut(BaseModel):
    id: str = Field(description="The file's id: the value of the field once uploaded.")
    method: Literal["PUT", "POST"] = Field(description="How to send the bytes.")
    url: str = Field(description="Where to send them.")
    fields: dict[str, str] = Field(
        description="With POST: the form fields to send before the file (as `file`)."
    )
    expires_in: int = Field(description="Seconds the upload stays allowed.")


class FileOut(BaseModel):
    id: str
    name: str
    size: int
    content_type: str = Field(description="The type read from the file's first bytes.")
    thumbnail: bool = Field(description="Whether it has a thumbnail (images).")


class FileLink(FileOut):
    url: str = Field(description="Where to read the file, without a token, for a while.")
    thumbnail_url: str | None
    expires_in: int


_FILE_ID = Field(pattern=f"^{FILE_ID_PATTERN}$", description="The file's id.")


class FileIdPath(BaseModel):
    file_id: str = _FILE_ID


class RowPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class SignedPath(BaseModel):
    file_id: str = _FILE_ID
    variant: Literal["file", "thumbnail"]


class SignedQuery(BaseModel):
    expires: int = Field(ge=0, le=2**40)
    signature: str = Field(pattern="^[0-9a-f]{64}$")


def upload_limits(resource: FileResource) -> list[tuple[str, str, int]]:
    """The body limit of each file field's upload route, as the body-limit middleware
    takes it (`OwnLimit`): the path up to the file's id, the id's pattern, and the
    field's size."""
    return [
        (f"{resource.prefix}/files/{field}/", FILE_ID_PATTERN, rule.max_size)
        for field, rule in resource.file_fields.items()
    ]


def files_of(request: Request) -> Files:
    files: Files | None = getattr(request.app.state, "files", None)
    if files is None:
        raise RuntimeError("file fields need create_app's storage (app.state.files)")
    return files


def _problem(error: FileProblem, field: str) -> ProblemError:
    status = _STATUS.get(error.kind, 422)
    return ProblemError(
        status, str(error), errors=[field_error(field, str(error), kind=error.kind)]
    )


async def _claim_files(
    resource: FileResource, request: Request, values: dict[str, Any], current: Any
) -> int | None:
    wanted = {
        field: str(values[field])
        for field in resource.file_fields
        if values.get(field) is not None
        and (current is None or values[field] != getattr(current, field))
    }
    if not wanted:
        return None
    files, user_id = files_of(request), resource.owner_of(request)
    errors: list[FieldError] = []
    for field, file_id in wanted.items():
        reason = await files.attachable(
            file_id, owner_id=user_id, resource=resource.name, field=field
        )
        if reason is not None:
            errors.append(field_error(field, reason, kind="not_found"))
    if errors:
        raise ValidationProblem(errors)
    try:
        return await files.claim(resource.name, user_id, wanted.values())
    except FileProblem as error:  # another row took one meanwhile
        raise ValidationProblem(
            [field_error(field, str(error), kind="taken") for field in wanted]
        ) from None


async def _nothing_to_attach(row_id: int) -> None:
    pass


@contextlib.asynccontextmanager
async def files_claimed(
    resource: FileResource, request: Request, values: dict[str, Any], current: Any = None
) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Around the write of a row: check its file fields and claim the files it newly
    names (only the caller's finished uploads for that field that no row holds; a
    value equal to `current`'s is kept as it is), give the block the function that
    attaches them to the written row, and release them if the block fails.

    Raises:
        ValidationProblem: 422 naming each file field that cannot take its file.
    """
    token = await _claim_files(resource, request, values, current)
    if token is None:
        yield _nothing_to_attach
        return
    files = files_of(request)
    try:
        yield partial(files.attach, token)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await files.release(token)
        raise


def add_file_routes(resource: FileResource, controller: Controller) -> None:
    """Add the upload and link routes of each of the resource's file fields."""
    writes = (*resource.roles, *resource.write_roles)
    for field, rule in resource.file_fields.items():
        _add_field_routes(resource, controller, field, rule, writes)


def _add_field_routes(
    resource: FileResource,
    controller: Controller,
    field: str,
    rule: FileRule,
    writes: tuple[str, ...],
) -> None:
    limit = resource.rate_limit_for
    base = f"/files/{field}"

    async def start_upload(request: Request, body: UploadIn) -> Response:
        files = files_of(request)
        try:
            record, presigned = await files.start_upload(
                owner_id=resource.owner_of(request), resource=resource.name, field=field,
                rule=rule, name=body.name, size=body.size,
            )  # fmt: skip
        except FileProblem as error:
            raise _problem(error, "size") from None
        if presigned is None:
            answer = UploadOut(
                id=record.id, method="PUT", url=f"{resource.prefix}{base}/{record.id}",
                fields={}, expires_in=files.upload_ttl,
            )  # fmt: skip
        else:
            answer = UploadOut(
                id=record.id, method="POST", url=presigned.url, fields=presigned.fields,
                expires_in=presigned.expires_in,
            )  # fmt: skip
        return JSONResponse(answer.model_dump(), status_code=201)

    async def receive_upload(request: Request, path: FileIdPath) -> FileOut:
        files = files_of(request)
        if files.storage.presigns_uploads:
            raise ProblemError(
                409, "this app's files go straight to the object store: post the form "
                f"that POST {resource.prefix}{base} answers, then complete the upload",
            )  # fmt: skip
        try:
            record = await files.receive(
                path.file_id, owner_id=resource.owner_of(request), resource=resource.name,
                field=field, rule=rule, chunks=request.stream(),
            )  # fmt: skip
        except FileProblem as error:
            raise _problem(error, field) from None
        return FileOut(**files.describe(record))

    async def complete_upload(request: Request, path: FileIdPath) -> FileOut:
        files = files_of(request)
        try:
            record = await files.complete(
                path.file_id, owner_id=resource.owner_of(request), resource=resource.name,
                field=field, rule=rule,
            )  # fmt: skip
        except FileProblem as error:
            raise _problem(error, field) from None
        return FileOut(**files.describe(record))

    async def file_link(request: Request, path: RowPath) -> Response:
        row = await resource.service_for(request).get(path.id)
        files = files_of(request)
        file_id = getattr(row, field)
        record = None if file_id is None else await files.get(str(file_id))
        if record is None or (record.resource, record.row_id) != (resource.name, row.id):
            raise ProblemError(404, f"this row has no file in {field}")
        link = FileLink(
            **files.describe(record),
            url=await files.link(record),
            thumbnail_url=await files.link(record, thumbnail=True) if record.thumbnail else None,
            expires_in=files.link_ttl,
        )
        return JSONResponse(link.model_dump(), headers={"Cache-Control": "no-store"})

    one = f"{resource.name}.{field}"
    controller.post(
        base, name=f"upload_{resource.name}_{field}", summary=f"Start uploading a file for {one}",
        roles=writes, rate_limit=limit("create"), response=UploadOut, status_code=201,
    )(start_upload)  # fmt: skip
    controller.put(
        f"{base}/{{file_id}}", name=f"receive_{resource.name}_{field}",
        summary=f"Send the bytes of a file for {one} (the body is the file)",
        roles=writes, rate_limit=limit("create"),
    )(receive_upload)  # fmt: skip
    controller.post(
        f"{base}/{{file_id}}/complete", name=f"complete_{resource.name}_{field}",
        summary=f"Finish a file for {one} uploaded straight to the object store",
        roles=writes, rate_limit=limit("create"),
    )(complete_upload)  # fmt: skip
    controller.get(
        f"/{{id}}/files/{field}", name=f"link_{resource.name}_{field}",
        summary=f"Links to the file in {one} and its thumbnail, for a few minutes",
        roles=resource.roles, cache_ttl=0, rate_limit=limit("read"), response=FileLink,
    )(file_link)  # fmt: skip


def files_controller() -> Controller:
    """`GET /api/files/{file_id}/{variant}`: the bytes behind a signed link (public:
    the signature is the permission)."""
    controller = Controller("/api/files", tags=["files"], public=True)

    @controller.get(
        "/{file_id}/{variant}", name="read_file", cache_ttl=0, response=None,
        summary="Read a file through a signed link (from the row's files route)",
    )  # fmt: skip
    async def read_file(request: Request, path: SignedPath, query: SignedQuery) -> Response:
        files = files_of(request)
        if not files.links.is_valid(path.file_id, path.variant, query.expires, query.signature):
            raise ProblemError(403, "this link is not valid or has expired")
        record = await files.get(path.file_id)
        thumbnail = path.variant == "thumbnail"
        if record is None or (thumbnail and not record.thumbnail):
            raise ProblemError(404, "no such file")
        key = record.thumbnail_key if thumbnail else record.key
        size = await files.storage.size(key)
        chunks = files.storage.read(key)
        try:  # the first chunk before the headers: a file deleted meanwhile is a 404
            first = await anext(chunks, b"")
        except StoredFileMissing:
            size = None
        if size is None:
            raise ProblemError(404, "no such file")
        headers = {
            "Content-Length": str(size),
            "Content-Disposition": record.disposition(),
            "Cache-Control": "private, max-age=60",
            # A file is never a page of the app: no script of its runs, nothing loads.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        media_type = "image/webp" if thumbnail else record.content_type
        return StreamingResponse(_prefixed(first, chunks), media_type=media_type, headers=headers)

    return controller


async def _prefixed(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk
