"""Routes that need roles: every role they name, from a signed-in user."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from stackkit import Controller
from stackkit.auth import requires
from tests.auth.conftest import bearer, login, register


def guarded() -> Controller:
    api = Controller("/api/reports")

    @api.get("/declared", roles=["auditor", "billing"])
    async def declared() -> dict[str, str]:
        return {"route": "declared"}

    @api.get("/decorated")
    @requires("auditor", "billing")
    async def decorated() -> dict[str, str]:
        return {"route": "decorated"}

    return api


@pytest.mark.parametrize("path", ["/api/reports/declared", "/api/reports/decorated"])
@pytest.mark.parametrize(
    ("roles", "status"),
    [([], 403), (["auditor"], 403), (["billing", "admin"], 403), (["billing", "auditor"], 200)],
    ids=["none", "one-of-two", "the-other-and-more", "both"],
)
def test_a_route_needs_every_role_it_names(
    make_auth_client: Callable[..., TestClient], path: str, roles: list[str], status: int
) -> None:
    client = make_auth_client(controllers=[guarded()])
    user = register(client)
    users = client.app.state.auth.users(client.app.state.database)  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(users.set_roles, user["id"], roles)
    response = client.get(path, headers=bearer(login(client)))
    assert response.status_code == status, response.text
    if status == 403:
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(path).status_code == 401
