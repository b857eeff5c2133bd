"""Uploading a file to a resource's file field in a test, as the SPA does it."""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["SAMPLE_PNG", "send_file", "upload_file"]

SAMPLE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)
"""A 2 by 2 pixel PNG image: an upload an `image` field takes."""


def send_file(
    client: Any, url: str, data: bytes, *, name: str = "file", headers: dict[str, str]
) -> Any:
    """Upload `data` as `upload_file` does and return the last step's answer (the
    app's to the bytes, or to finishing a presigned upload) whatever it is: for
    testing what the app refuses.

    Raises:
        AssertionError: starting the upload, or posting a presigned form, failed.
    """
    import httpx2 as httpx

    started = client.post(url, json={"name": name, "size": len(data)}, headers=headers)
    assert started.status_code == 201, started.text
    where = started.json()
    if where["method"] == "PUT":
        return client.put(where["url"], content=data, headers=headers)
    sent = httpx.post(where["url"], data=where["fields"], files={"file": (name, data)})
    assert sent.status_code < 300, sent.text
    return client.post(f"{url}/{where['id']}/complete", headers=headers)


def upload_file(
    client: Any, url: str, data: bytes, *, name: str = "file", headers: dict[str, str]
) -> str:
    """Upload `data` to a file field's route (`/api/notes/files/photo`) with a Starlette
    `TestClient` (or an httpx client): start, send the bytes where the app says (to
    itself, or a presigned form to the object store), finish; return the file's id.

    Raises:
        AssertionError: a step did not succeed (its answer is in the message).
    """
    finished = send_file(client, url, data, name=name, headers=headers)
    assert finished.status_code == 200, finished.text
    file_id: str = finished.json()["id"]
    return file_id
