from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.testclient import TestClient

from stackkit import Backend, Controller, create_app


class Named(Backend):
    def __init__(self, name: str) -> None:
        self.name = name

    async def check(self) -> None:
        return None


def test_backends_need_distinct_names(make_settings: Callable[..., object]) -> None:
    with pytest.raises(ValueError, match=r"repeated: \['database'\]"):
        create_app(make_settings(), backends=[Named("database"), Named("database")])  # type: ignore[arg-type]


def test_app_routes_cannot_shadow_the_fixed_routes(make_client: Callable[..., TestClient]) -> None:
    pages = Controller(public=True)

    @pages.get("/{page}")
    async def page(request: Request) -> dict[str, str]:
        return {"page": request.path_params["page"]}

    client = make_client(controllers=[pages], backends=[Named("database")])
    assert client.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok"}}
    assert client.get("/about").json() == {"page": "about"}


def test_wildcard_cors_origin_gets_no_credentials(
    make_client: Callable[..., TestClient], make_settings: Callable[..., object]
) -> None:
    client = make_client(make_settings(cors_origins="*"))
    response = client.get("/healthz", headers={"origin": "https://anywhere.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


def test_cors_origins_are_compared_in_lower_case(make_settings: Callable[..., object]) -> None:
    settings = make_settings(cors_origins="https://App.Example.org")
    assert settings.cors_origins == ["https://app.example.org"]  # type: ignore[attr-defined]


async def test_oversized_body_to_a_streaming_route_gets_a_whole_answer(
    make_settings: Callable[..., object],
) -> None:
    """The response's disconnect listener, not the handler, meets the limit here: the
    client still gets one whole answer (the 413 problem), not a stream cut short."""
    api = Controller(public=True)

    @api.post("/stream")
    async def stream() -> StreamingResponse:
        async def chunks():  # type: ignore[no-untyped-def]
            for n in range(5):
                yield f"chunk {n}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    app = create_app(make_settings(max_body_size=10), controllers=[api], backends=[])  # type: ignore[arg-type]
    incoming = [{"type": "http.request", "body": b"x" * 10, "more_body": True}] * 10
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "path": "/stream",
        "raw_path": b"/stream", "query_string": b"", "root_path": "", "scheme": "http",
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
        "headers": [(b"transfer-encoding", b"chunked")],
    }  # fmt: skip
    await app(scope, receive, send)
    [start, body] = sent
    assert start["status"] == 413
    assert json.loads(body["body"])["title"] == "Content Too Large"


def test_production_start_up_freezes_long_lived_objects(
    make_settings: Callable[..., object],
) -> None:
    import gc

    from starlette.testclient import TestClient

    gc.unfreeze()
    settings = make_settings(
        env="production", secret_key="q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns5AoWi1Rt"
    )
    app = create_app(settings, backends=[])  # type: ignore[arg-type]
    try:
        with TestClient(app):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_an_app_without_redis_never_loads_redis_py(tmp_path: Path) -> None:
    # redis-py takes a tenth of a second to import: an app on the embedded stores,
    # serving a signed-in request, must not pay for it.
    code = (
        "import sys\n"
        "from starlette.testclient import TestClient\n"
        "from stackkit import Settings, create_app\n"
        "from stackkit.auth import AuthConfig\n"
        "from stackkit.auth.user import User\n"
        "async def create_tables(app):\n"
        "    async with app.state.database.engine.begin() as connection:\n"
        "        await connection.run_sync(User.metadata.create_all, tables=[User.__table__])\n"
        f"settings = Settings(env='test', database_url='sqlite:///{tmp_path / 'app.db'}')\n"
        "app = create_app(settings, auth=AuthConfig(User), startup=[create_tables])\n"
        "with TestClient(app) as client:\n"
        "    who = {'email': 'ada@example.com', 'password': 'correct horse battery'}\n"
        "    assert client.post('/api/auth/register', json=who).status_code == 201\n"
        "    token = client.post('/api/auth/login', json=who).json()['access_token']\n"
        "    me = client.get('/api/auth/me', headers={'Authorization': f'Bearer {token}'})\n"
        "    assert me.status_code == 200, me.text\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'redis', 'hiredis'}))\n"
    )
    environment = {**os.environ, "REDIS_URL": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
