"""Uploading a file to a resource's file field in a test, as the SPA does it."""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["SAMPLE_PNG", "upload_file"]

SAMPLE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)
"""A 2 by 2 pixel PNG image: an upload an `image` field takes."""


def upload_file(
    client: Any, url: str, data: bytes, *, name: str = "file", headers: dict[str, str]
) -> str:
    """Upload `data` to a file field's route (`/api/notes/files/photo`) with a Starlette
    `TestClient` (or an httpx client): start, send the bytes where the app says (to
    itself, or a presigned form to the object store), finish; return the file's id.

    Raises:
        AssertionError: a step did not succeed (its answer is in the message).
    """
    import httpx2 as httpx

    started = client.post(url, json={"name": name, "size": len(data)}, headers=headers)
    assert started.status_code == 201, started.text
    where = started.json()
    if where["method"] == "PUT":
        finished = client.put(where["url"], content=data, headers=headers)
    else:
        sent = httpx.post(where["url"], data=where["fields"], files={"file": (name, data)})
        assert sent.status_code < 300, sent.text
        finished = client.post(f"{url}/{where['id']}/complete", headers=headers)
    assert finished.status_code == 200, finished.text
    file_id: str = finished.json()["id"]
    return file_id
