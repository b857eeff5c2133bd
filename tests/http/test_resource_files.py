"""File fields of a resource (`stackkit.files`, `stackkit.resources.files`): uploads
through the app or straight to the object store, types sniffed, sizes held, files of
others refused, links after the row's own check, and files deleted with their rows.
On a local folder and on an S3-protocol server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest
from PIL import Image
from pydantic import BaseModel, Field
from sqlalchemy import String
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Mapped, mapped_column
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tests.auth.conftest import FAST_HASHER, sign_in_users

from stackkit import Settings, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.user import User
from stackkit.db import Model, Repository, Service, owner_column
from stackkit.files import (
    FileProblem,
    Files,
    S3Storage,
    Storage,
    create_file_tables,
    file_column,
)
from stackkit.files.jobs import DELETE_JOB
from stackkit.files.service import keys_of
from stackkit.jobs import JobQueue
from stackkit.middleware.security_headers import DEFAULT_CONTENT_SECURITY_POLICY
from stackkit.resources.resource import Resource
from stackkit.testing import send_file, upload_file


class Exhibit(Model):
    __tablename__ = "file_exhibits"
    title: Mapped[str] = mapped_column(String(200))
    photo: Mapped[str | None] = file_column(image=True, max_size=200_000)
    leaflet: Mapped[str | None] = file_column(max_size=1000, types=["application/pdf", "text/*"])
    owner_id: Mapped[int] = owner_column()


class ExhibitService(Service[Exhibit]):
    repository = Repository.for_model(Exhibit)


class ExhibitIn(BaseModel):
    title: str = Field(max_length=200)
    photo: str | None = None
    leaflet: str | None = None


class ExhibitPatch(BaseModel):
    title: str | None = Field(None, max_length=200)
    photo: str | None = None
    leaflet: str | None = None


class ExhibitOut(BaseModel):
    id: int
    title: str
    photo: str | None
    leaflet: str | None
    owner_id: int


async def create_tables(app: Starlette) -> None:
    async with app.state.database.engine.begin() as connection:
        tables = [User.__table__, Exhibit.__table__]
        await connection.run_sync(Model.metadata.create_all, tables=tables)
    await create_file_tables(app.state.database.engine)


def png(width: int = 640, height: int = 480) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(output, "PNG")
    return output.getvalue()


PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@dataclass
class Museum:
    client: TestClient
    app: Starlette
    ada: dict[str, str]
    bob: dict[str, str]
    admin: dict[str, str]

    @property
    def files(self) -> Files:
        files: Files = self.app.state.files
        return files

    def start(self, caller: dict[str, str], field: str, name: str, size: int) -> httpx.Response:
        return self.client.post(
            f"/api/exhibits/files/{field}", json={"name": name, "size": size}, headers=caller
        )

    def upload(
        self, caller: dict[str, str], field: str, data: bytes, name: str = "a.bin"
    ) -> httpx.Response:
        """Upload as the SPA does; the app's last answer."""
        answer: httpx.Response = send_file(
            self.client, f"/api/exhibits/files/{field}", data, name=name, headers=caller
        )
        return answer

    def uploaded(self, caller: dict[str, str], field: str, data: bytes, name: str = "a") -> str:
        return upload_file(
            self.client, f"/api/exhibits/files/{field}", data, name=name, headers=caller
        )

    def create(self, caller: dict[str, str], **values: Any) -> Any:
        answer = self.client.post("/api/exhibits", json={"title": "t", **values}, headers=caller)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def fetch(self, url: str) -> httpx.Response:
        """A link's bytes: the app's own (local storage) or the object store's."""
        if url.startswith("/"):
            return self.client.get(url)
        return httpx.get(url)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage | None:
    if request.param == "local":
        return None  # STACKKIT_STORAGE_URL's folder
    bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(bucket.name, **bucket.storage_options())


@pytest.fixture
def museum(database_url: str, storage: Storage | None, tmp_path: Path) -> Iterator[Museum]:
    exhibits = Resource(
        "exhibits", service=ExhibitService, create=ExhibitIn, update=ExhibitPatch,
        read=ExhibitOut,
    )  # fmt: skip
    settings = Settings(
        env="test", database_url=database_url, storage_url=str(tmp_path / "uploads")
    )
    app = create_app(
        settings, resources=[exhibits], auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables], storage=storage,
    )  # fmt: skip
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        users = {name: user[1] for name, user in sign_in_users(client, app).items()}
        yield Museum(client, app, users["ada"], users["bob"], users["root"])


def call(museum: Museum, coroutine: Any) -> Any:
    assert museum.client.portal is not None
    return museum.client.portal.call(lambda: coroutine)


# Uploading and reading back


def test_an_image_is_uploaded_referred_to_and_read_back_with_its_thumbnail(
    museum: Museum,
) -> None:
    image = png()
    file_id = museum.uploaded(museum.ada, "photo", image, "Holiday photo.png")
    row = museum.create(museum.ada, photo=file_id)
    assert row["photo"] == file_id

    link = museum.client.get(f"/api/exhibits/{row['id']}/files/photo", headers=museum.ada)
    assert link.status_code == 200, link.text
    assert link.headers["cache-control"] == "no-store"
    info = link.json()
    assert info["name"] == "Holiday photo.png"
    assert info["size"] == len(image)
    assert info["content_type"] == "image/png"
    assert info["thumbnail"] is True

    served = museum.fetch(info["url"])
    assert served.status_code == 200
    assert served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"].startswith("inline;")

    thumbnail = museum.fetch(info["thumbnail_url"])
    assert thumbnail.status_code == 200
    with Image.open(io.BytesIO(thumbnail.content)) as small:
        assert small.format == "WEBP"
        assert small.size == (320, 240)


def test_a_file_is_served_as_a_download_that_runs_nothing(museum: Museum) -> None:
    page = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
    # The field takes text/*, and an HTML page is text: it is kept, never shown as a page.
    file_id = museum.uploaded(museum.ada, "leaflet", page, "page.html")
    row = museum.create(museum.ada, leaflet=file_id)
    info = museum.client.get(f"/api/exhibits/{row['id']}/files/leaflet", headers=museum.ada)
    served = museum.fetch(info.json()["url"])
    assert served.content == page
    assert served.headers["content-disposition"].startswith("attachment;")
    if info.json()["url"].startswith("/"):
        assert "sandbox" in served.headers["content-security-policy"]
        assert served.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("猫 café.pdf", " cafe.pdf"),
        ('quote" and; semicolon\r\n.pdf', "quote and semicolon.pdf"),
        ("日本語", "file"),
    ],
    ids=["non-ascii", "header-syntax", "nothing-ascii"],
)
def test_any_name_is_served_in_a_sound_header(museum: Museum, name: str, plain: str) -> None:
    row = museum.create(museum.ada, leaflet=museum.uploaded(museum.ada, "leaflet", PDF, name))
    info = museum.client.get(f"/api/exhibits/{row['id']}/files/leaflet", headers=museum.ada)
    served = museum.fetch(info.json()["url"])
    assert served.status_code == 200
    disposition = served.headers["content-disposition"]
    encoded = quote(info.json()["name"], safe="")
    assert disposition == f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"


def test_the_name_as_uploaded_loses_its_folders(museum: Museum) -> None:
    file_id = museum.uploaded(museum.ada, "leaflet", PDF, "..\\../../etc/passwd.pdf")
    row = museum.create(museum.ada, leaflet=file_id)
    info = museum.client.get(f"/api/exhibits/{row['id']}/files/leaflet", headers=museum.ada)
    assert info.json()["name"] == "passwd.pdf"


# What a field takes


@pytest.mark.parametrize(
    ("field", "data", "name", "sniffed"),
    [
        ("photo", b"just some text, not an image", "photo.png", "text/plain"),
        ("photo", PDF, "photo.jpg", "application/pdf"),
        ("leaflet", png(8, 8), "leaflet.pdf", "image/png"),
        ("leaflet", b"\x00\x01\x02\x03binary", "leaflet.txt", "application/octet-stream"),
    ],
    ids=["text-as-image", "pdf-as-image", "png-as-pdf", "binary-as-text"],
)
def test_the_type_is_read_from_the_bytes_not_the_name(
    museum: Museum, field: str, data: bytes, name: str, sniffed: str
) -> None:
    answer = museum.upload(museum.ada, field, data, name)
    assert answer.status_code == 415, answer.text
    assert sniffed in answer.json()["detail"]


def test_an_image_that_does_not_decode_is_refused(museum: Museum) -> None:
    broken = png()[:200]  # a PNG signature and header, then nothing
    answer = museum.upload(museum.ada, "photo", broken, "broken.png")
    assert answer.status_code == 415, answer.text
    assert "not a readable image/png image" in answer.json()["detail"]


def test_a_size_over_the_fields_limit_is_refused_before_any_byte(museum: Museum) -> None:
    answer = museum.start(museum.ada, "leaflet", "big.pdf", 1001)
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["field"] == "size"


def test_bytes_past_the_limit_are_refused_and_nothing_is_kept(museum: Museum) -> None:
    """A client that announced a small file and sends a larger one."""
    started = museum.start(museum.ada, "leaflet", "a.pdf", 10).json()
    big = PDF + b"x" * 2000
    if started["method"] == "PUT":
        answer = museum.client.put(started["url"], content=big, headers=museum.ada)
    else:  # the store takes it (a test server checks no policy): the app then refuses it
        httpx.post(started["url"], data=started["fields"], files={"file": ("a.pdf", big)})
        answer = museum.client.post(
            f"/api/exhibits/files/leaflet/{started['id']}/complete", headers=museum.ada
        )
    assert answer.status_code == 413, answer.text
    for key in keys_of(started["id"]):
        assert call(museum, museum.files.storage.size(key)) is None
    record = call(museum, museum.files.get(started["id"]))
    assert record is None or record.state == "pending"  # never a file a row may take


def send(museum: Museum, caller: dict[str, str], field: str, file_id: str, data: bytes) -> Any:
    """Send an upload's bytes through `field`'s route, as the storage wants them."""
    url = f"/api/exhibits/files/{field}/{file_id}"
    if not museum.files.storage.presigns_uploads:
        return museum.client.put(url, content=data, headers=caller)
    return museum.client.post(f"{url}/complete", headers=caller)


def test_an_upload_goes_only_through_the_field_it_was_started_for(museum: Museum) -> None:
    """Text started as a leaflet (which takes text) cannot be sent through the photo
    route, nor an image started as a photo through the leaflet's larger limit."""
    started = museum.start(museum.ada, "photo", "a.png", len(PDF)).json()
    if started["method"] == "POST":
        httpx.post(started["url"], data=started["fields"], files={"file": ("a.pdf", PDF)})
    answer = send(museum, museum.ada, "leaflet", started["id"], PDF)
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"] == "no upload of yours for this field with this id"
    assert museum.create(museum.ada).get("photo") is None
    refused = museum.client.post(
        "/api/exhibits", json={"title": "t", "photo": started["id"]}, headers=museum.ada
    )
    assert refused.status_code == 422


def test_one_request_at_a_time_takes_an_upload(museum: Museum) -> None:
    started = museum.start(museum.ada, "leaflet", "a.pdf", len(PDF)).json()
    user_id = museum.client.get("/api/auth/me", headers=museum.ada).json()["id"]
    # Another request is receiving it (as a slow PUT would be).
    files = museum.files

    async def take() -> None:
        await files._take(await files.get(started["id"]), user_id, "exhibits", "leaflet")

    call(museum, take())
    answer = send(museum, museum.ada, "leaflet", started["id"], PDF)
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"] == "this upload is being received already"


# Whose files


def test_a_row_may_not_take_another_users_file(museum: Museum) -> None:
    bobs = museum.uploaded(museum.bob, "photo", png(), "bob.png")
    for caller in (museum.ada, museum.admin):
        answer = museum.client.post(
            "/api/exhibits", json={"title": "t", "photo": bobs}, headers=caller
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "photo"
        assert answer.json()["errors"][0]["message"] == "no file of yours with this id"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other-field", "this file was uploaded for exhibits.leaflet"),
        ("unfinished", "this file's upload is not finished"),
        ("taken", "this file belongs to another row"),
        ("unknown", "no file of yours with this id"),
        ("too-long", "no file of yours with this id"),
    ],
)
def test_a_row_takes_only_a_finished_upload_for_its_field_that_no_row_holds(
    museum: Museum, case: str, message: str
) -> None:
    if case == "other-field":
        file_id = museum.uploaded(museum.ada, "leaflet", PDF)
    elif case == "unfinished":
        file_id = museum.start(museum.ada, "photo", "a.png", 10).json()["id"]
    elif case == "taken":
        file_id = museum.uploaded(museum.ada, "photo", png())
        museum.create(museum.ada, photo=file_id)
    else:
        file_id = "x" * (40 if case == "too-long" else 20)
    answer = museum.client.post(
        "/api/exhibits", json={"title": "t", "photo": file_id}, headers=museum.ada
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["message"] == message


def test_two_rows_never_hold_one_file(museum: Museum) -> None:
    """A claim is atomic: of two rows written at once with one file, one gets it."""
    file_id = museum.uploaded(museum.ada, "photo", png())
    user_id = museum.client.get("/api/auth/me", headers=museum.ada).json()["id"]
    files = museum.files
    first = call(museum, files.claim("exhibits", user_id, [file_id]))
    with pytest.raises(FileProblem, match="belongs to another row"):
        call(museum, files.claim("exhibits", user_id, [file_id]))
    call(museum, files.release(first))  # that row was not written after all
    row = museum.create(museum.ada, photo=file_id)
    assert call(museum, files.get(file_id)).row_id == row["id"]


def test_a_replaced_file_cannot_be_taken_back_or_by_another_row(museum: Museum) -> None:
    first = museum.uploaded(museum.ada, "photo", png())
    row = museum.create(museum.ada, photo=first)
    url = f"/api/exhibits/{row['id']}"
    second = museum.uploaded(museum.ada, "photo", png(20, 20))
    assert museum.client.patch(url, json={"photo": second}, headers=museum.ada).status_code == 200
    back = museum.client.patch(url, json={"photo": first}, headers=museum.ada)
    assert back.status_code == 422, back.text
    other = museum.client.post(
        "/api/exhibits", json={"title": "t", "photo": first}, headers=museum.ada
    )
    assert other.status_code == 422, other.text


def test_an_admin_may_send_a_rows_file_back_unchanged(museum: Museum) -> None:
    row = museum.create(museum.ada, photo=museum.uploaded(museum.ada, "photo", png()))
    url = f"/api/exhibits/{row['id']}"
    answer = museum.client.patch(
        url, json={"title": "checked", "photo": row["photo"]}, headers=museum.admin
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["photo"] == row["photo"]


def test_files_of_rows_deleted_elsewhere_are_swept(museum: Museum) -> None:
    """A row deleted by SQL of the app's own (or a cascade) leaves its file to the sweep."""
    row = museum.create(museum.ada, photo=museum.uploaded(museum.ada, "photo", png()))
    kept = museum.create(museum.ada, photo=museum.uploaded(museum.ada, "photo", png()))

    async def delete_row() -> None:
        async with museum.app.state.database.session() as session:
            await session.execute(sa_delete(Exhibit).where(Exhibit.id == row["id"]))

    call(museum, delete_row())
    assert call(museum, museum.files.sweep()) == 1
    assert call(museum, museum.files.get(row["photo"])) is None
    assert call(museum, museum.files.get(kept["photo"])) is not None


def test_another_users_upload_cannot_be_finished_or_sent(museum: Museum) -> None:
    started = museum.start(museum.ada, "leaflet", "a.pdf", len(PDF)).json()
    if started["method"] == "POST":
        httpx.post(started["url"], data=started["fields"], files={"file": ("a.pdf", PDF)})
    assert send(museum, museum.bob, "leaflet", started["id"], PDF).status_code == 404
    base = f"/api/exhibits/files/leaflet/{started['id']}"
    assert museum.client.post(f"{base}/complete", headers=museum.bob).status_code == 404


def test_with_s3_the_app_takes_no_bytes_and_a_checked_file_stays_as_checked(
    museum: Museum,
) -> None:
    if not museum.files.storage.presigns_uploads:
        refused = museum.client.post(  # nothing to complete on a local folder
            "/api/exhibits/files/leaflet/unknown/complete", headers=museum.ada
        )
        assert refused.status_code == 404
        return
    started = museum.start(museum.ada, "leaflet", "a.pdf", len(PDF)).json()
    put = museum.client.put(
        f"/api/exhibits/files/leaflet/{started['id']}", content=PDF, headers=museum.ada
    )
    assert put.status_code == 409
    httpx.post(started["url"], data=started["fields"], files={"file": ("a.pdf", PDF)})
    completed = send(museum, museum.ada, "leaflet", started["id"], PDF)
    assert completed.status_code == 200, completed.text
    # The form still works for a while: posting it again must not change the checked file.
    httpx.post(started["url"], data=started["fields"], files={"file": ("a.pdf", b"\x00" * 9)})
    row = museum.create(museum.ada, leaflet=started["id"])
    link = museum.client.get(f"/api/exhibits/{row['id']}/files/leaflet", headers=museum.ada)
    assert museum.fetch(link.json()["url"]).content == PDF


def test_only_those_who_see_the_row_get_links_to_its_file(museum: Museum) -> None:
    row = museum.create(museum.ada, photo=museum.uploaded(museum.ada, "photo", png()))
    url = f"/api/exhibits/{row['id']}/files/photo"
    assert museum.client.get(url, headers=museum.bob).status_code == 404
    assert museum.client.get(url, headers=museum.admin).status_code == 200
    assert museum.client.get(url).status_code == 401
    empty = museum.create(museum.ada)
    answer = museum.client.get(f"/api/exhibits/{empty['id']}/files/photo", headers=museum.ada)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "this row has no file in photo"


def test_a_signed_link_is_refused_when_altered_or_expired(museum: Museum) -> None:
    row = museum.create(museum.ada, leaflet=museum.uploaded(museum.ada, "leaflet", PDF))
    file_id = row["leaflet"]
    files = museum.files
    expired = int(time.time()) - 1
    signature = files.links.signature(file_id, "file", expired)
    good_until = int(time.time()) + 60
    cases = [
        f"/api/files/{file_id}/file?expires={expired}&signature={signature}",
        f"/api/files/{file_id}/file?expires={good_until}&signature={signature}",
        f"/api/files/{file_id}/thumbnail?expires={good_until}&signature="
        + files.links.signature(file_id, "file", good_until),
    ]
    for url in cases:
        answer = museum.client.get(url)
        assert answer.status_code == 403, url
        assert answer.headers["content-type"] == "application/problem+json"
    valid = f"/api/files/{file_id}/file?expires={good_until}&signature=" + files.links.signature(
        file_id, "file", good_until
    )
    assert museum.client.get(valid).status_code == 200


# Files go with their rows


def test_deleting_a_row_deletes_its_files(museum: Museum) -> None:
    photo = museum.uploaded(museum.ada, "photo", png())
    leaflet = museum.uploaded(museum.ada, "leaflet", PDF)
    row = museum.create(museum.ada, photo=photo, leaflet=leaflet)
    assert museum.client.delete(f"/api/exhibits/{row['id']}", headers=museum.ada).status_code == 204
    storage = museum.files.storage
    for key in (f"files/{photo}", f"thumbnails/{photo}.webp", f"files/{leaflet}"):
        assert call(museum, storage.size(key)) is None, key
    assert call(museum, museum.files.get(photo)) is None


def test_replacing_a_file_deletes_the_old_one_and_keeping_it_keeps_it(museum: Museum) -> None:
    first = museum.uploaded(museum.ada, "photo", png())
    row = museum.create(museum.ada, photo=first)
    url = f"/api/exhibits/{row['id']}"
    kept = museum.client.patch(url, json={"photo": first, "title": "x"}, headers=museum.ada)
    assert kept.status_code == 200, kept.text
    assert call(museum, museum.files.get(first)) is not None

    second = museum.uploaded(museum.ada, "photo", png(20, 20))
    assert museum.client.patch(url, json={"photo": second}, headers=museum.ada).status_code == 200
    assert call(museum, museum.files.get(first)) is None
    assert call(museum, museum.files.storage.size(f"files/{first}")) is None
    assert museum.client.patch(url, json={"photo": None}, headers=museum.ada).status_code == 200
    assert call(museum, museum.files.get(second)) is None


def test_files_no_row_took_in_time_are_swept(museum: Museum) -> None:
    files = museum.files
    files.unattached_ttl = 0
    left = museum.uploaded(museum.ada, "leaflet", PDF)
    files.unattached_ttl = 3600
    waiting = museum.uploaded(museum.ada, "leaflet", PDF)
    taken = museum.uploaded(museum.ada, "photo", png())
    museum.create(museum.ada, photo=taken)
    assert call(museum, files.sweep()) == 1
    assert call(museum, files.get(left)) is None
    assert call(museum, files.storage.size(f"files/{left}")) is None
    assert call(museum, files.get(waiting)) is not None
    assert call(museum, files.get(taken)) is not None


def test_an_upload_not_finished_in_time_is_refused(museum: Museum) -> None:
    museum.files.upload_ttl = 0
    started = museum.start(museum.ada, "leaflet", "a.pdf", len(PDF)).json()
    answer = museum.client.post(
        f"/api/exhibits/files/leaflet/{started['id']}/complete", headers=museum.ada
    )
    assert answer.status_code == 410, answer.text


def test_meta_says_what_each_file_field_takes(museum: Museum) -> None:
    meta = museum.client.get("/api/meta/resources", headers=museum.ada).json()
    exhibits = next(r for r in meta if r["name"] == "exhibits")
    assert exhibits["files"] == {
        "photo": {
            "image": True,
            "max_size": 200_000,
            "types": ["image/png", "image/jpeg", "image/gif", "image/webp"],
        },
        "leaflet": {"image": False, "max_size": 1000, "types": ["application/pdf", "text/*"]},
    }


HOSTILE = [
    ("POST", "/api/exhibits/files/photo", {"name": "", "size": 1}),
    ("POST", "/api/exhibits/files/photo", {"name": "a", "size": -1}),
    ("POST", "/api/exhibits/files/photo", {"name": "a", "size": 2**80}),
    ("POST", "/api/exhibits/files/photo", {"name": "a" * 5000, "size": 1}),
    ("POST", "/api/exhibits/files/photo", {"name": ["a"], "size": "1"}),
    ("POST", "/api/exhibits/files/nope", {"name": "a", "size": 1}),
    ("PUT", "/api/exhibits/files/photo/" + "a" * 33, None),
    ("PUT", "/api/exhibits/files/photo/..%2F..%2Fetc", None),
    ("PUT", "/api/exhibits/files/photo/%00", None),
    ("POST", "/api/exhibits/files/photo/unknown/complete", None),
    ("GET", "/api/exhibits/0/files/photo", None),
    ("GET", "/api/exhibits/99999999999999999999/files/photo", None),
    ("GET", "/api/exhibits/abc/files/photo", None),
    ("GET", "/api/files/abc/file", None),
    ("GET", "/api/files/abc/other?expires=1&signature=" + "0" * 64, None),
    ("GET", "/api/files/abc/file?expires=-1&signature=" + "0" * 64, None),
    ("GET", "/api/files/abc/file?expires=99999999999999999999&signature=" + "0" * 64, None),
    ("GET", "/api/files/abc/file?expires=1&signature=zz", None),
    ("GET", "/api/files/abc/file?expires=9999999999&signature=" + "0" * 64, None),
    ("POST", "/api/exhibits", {"title": "t", "photo": 3}),
    ("POST", "/api/exhibits", {"title": "t", "photo": "\x00"}),
    ("POST", "/api/exhibits", {"title": "t", "photo": "a" * 10_000}),
    ("PATCH", "/api/exhibits/1", {"photo": {"id": "x"}}),
]


@pytest.mark.parametrize(
    ("method", "url", "body"), HOSTILE, ids=[f"{m} {u}" for m, u, _ in HOSTILE]
)
def test_odd_input_to_the_file_routes_is_a_4xx_problem(
    museum: Museum, method: str, url: str, body: Any
) -> None:
    for headers in ({}, museum.ada):
        answer = museum.client.request(method, url, json=body, headers=headers)
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"


def test_with_a_job_queue_a_rows_files_are_deleted_by_a_job(tmp_path: Path) -> None:
    exhibits = Resource(
        "exhibits", service=ExhibitService, create=ExhibitIn, update=ExhibitPatch,
        read=ExhibitOut,
    )  # fmt: skip
    jobs = JobQueue(requeue_every=None, clean_up_every=None)

    async def install_queue(app: Starlette) -> None:
        await app.state.jobs.install()

    settings = Settings(
        env="test",
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        storage_url=str(tmp_path / "uploads"),
    )
    app = create_app(
        settings, resources=[exhibits], auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[create_tables, install_queue], jobs=jobs,
    )  # fmt: skip
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        users = {name: user[1] for name, user in sign_in_users(client, app, ["ada"]).items()}
        museum = Museum(client, app, users["ada"], {}, {})
        photo = museum.uploaded(museum.ada, "photo", png())
        row = museum.create(museum.ada, photo=photo)
        assert client.delete(f"/api/exhibits/{row['id']}", headers=museum.ada).status_code == 204
        assert museum.files.delete_job is not None

        def deletions() -> list[tuple[str, dict[str, Any]]]:
            # The app's periodic jobs (the hourly sweep) may be there too, at some hours.
            records = call(museum, jobs.records())
            return [(r.status, r.arguments) for r in records if r.name == DELETE_JOB]

        deadline = time.monotonic() + 20
        while deletions() != [("succeeded", {"file_ids": [photo]})]:  # the app's own worker
            assert time.monotonic() < deadline, f"the deletion job did not end: {deletions()}"
            call(museum, asyncio.sleep(0.05))
        assert call(museum, museum.files.get(photo)) is None
        assert call(museum, museum.files.storage.size(f"files/{photo}")) is None


def test_a_client_gone_mid_upload_leaves_nothing_and_no_error(
    museum: Museum, caplog: pytest.LogCaptureFixture
) -> None:
    """The body stops halfway (the browser tab closed): nothing is answered or kept,
    and it is not logged as the server's failure."""
    if museum.files.storage.presigns_uploads:
        return  # the app takes no bytes itself (see the S3 test above)
    started = museum.start(museum.ada, "leaflet", "a.pdf", 900).json()
    token = museum.ada["Authorization"].encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT",
        "scheme": "https", "path": started["url"], "raw_path": started["url"].encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("testserver", 443),
        "headers": [(b"host", b"testserver"), (b"authorization", token),
                    (b"transfer-encoding", b"chunked")],
    }  # fmt: skip
    messages = iter([
        {"type": "http.request", "body": PDF[:20], "more_body": True},
        {"type": "http.disconnect"},
    ])  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send_message(message: dict[str, Any]) -> None:
        sent.append(message)

    audit_logger = logging.getLogger("stackkit")
    audit_logger.addHandler(caplog.handler)
    try:
        call(museum, museum.app(scope, receive, send_message))
    finally:
        audit_logger.removeHandler(caplog.handler)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert all(m["status"] != 500 for m in starts), starts
    assert not any("Unhandled error" in r.getMessage() for r in caplog.records)
    assert call(museum, museum.files.get(started["id"])) is None
    for key in keys_of(started["id"]):
        assert call(museum, museum.files.storage.size(key)) is None


def test_the_pages_may_reach_the_object_store_and_nothing_else(
    museum: Museum, storage: Storage | None
) -> None:
    # Uploads go from the browser to the store, and images come from it: the
    # Content-Security-Policy must allow its origin, and only then.
    policy = museum.client.get("/healthz").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    if storage is None:
        assert policy == DEFAULT_CONTENT_SECURITY_POLICY
        return
    origins = list(storage.browser_origins)
    assert origins
    assert directives["connect-src"].split() == ["'self'", *origins]
    assert directives["img-src"].split() == ["'self'", "data:", *origins]
    assert directives["default-src"] == "'self'"
