"""How long an access token lives: 15 minutes, or `STACKKIT_ACCESS_TOKEN_TTL` seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import AccessTokens
from tests.auth.conftest import bearer, login, register


@pytest.mark.parametrize(
    ("overrides", "lifetime"),
    [({}, 15 * 60), ({"access_token_ttl": 60}, 60)],
    ids=["default", "setting"],
)
def test_an_access_token_lives_15_minutes_unless_the_setting_says_otherwise(
    make_auth_client: Callable[..., TestClient], overrides: dict[str, Any], lifetime: int
) -> None:
    settings = Settings(env="test", database_url="sqlite:///:memory:", **overrides)
    client = make_auth_client(settings)
    register(client)
    tokens = login(client)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == lifetime
    assert tokens["expires_in"] == lifetime

    access: AccessTokens = client.app.state.auth.tokens  # type: ignore[attr-defined]
    issued = claims["iat"]
    access.clock = lambda: issued + lifetime - 1
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 200
    access.clock = lambda: issued + lifetime + access.leeway
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
