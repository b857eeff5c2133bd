"""Schemathesis against the OpenAPI document of a generated app, signed in.

Every operation of `/api/openapi.json` gets up to `EXAMPLES` generated requests,
positive and negative ones, derandomized (the same requests on every run). A
response passes when it is no server error (5xx) and its status, media type,
headers and body are ones the document gives for the operation (errors as
`application/problem+json` bodies of the `Problem` schema).

Every request carries an `Authorization: Bearer` token and an `X-Forwarded-For`
address of its own (the server believes it from 127.0.0.1, see
`e2e.server.GeneratedAppServer`), so that the per-address limits of sign-ins,
registrations and reset requests do not turn the run into 429s. The token is not
the `access_token` of the admin:

- The default rate limit, 100 requests a minute, counts per user: a dozen signed-in
  operations times `EXAMPLES` would run out of it. So each operation signs in a new
  account of its own, registered for it.
- Admins see and change every row, and `/api/auth/users/{id}` reaches every user:
  signed in as the admin, the drill would delete or disable the notes and accounts
  of other tests. The account of an operation is a plain user, which sees its own
  notes only, unless the operation is for admins (it documents a 403): then the
  admin grants the account the admin role, and `/api/auth/users/{id}` never names
  a user older than the drill, nor the account itself. Such ids are replaced by the
  id of a user the drill registers first (`floor`), which it may change or delete.
- `POST /api/auth/logout` and `DELETE /api/auth/sessions` end the token's session,
  and every `POST /api/auth/password` counts as a sign-in attempt on the account
  (`AuthConfig.login_limit_per_account`): for these, each request signs in an
  account of its own.

Nothing is left out. Schemathesis' pytest plugin (`schemathesis.pytest.from_fixture`)
is not used: on pytest 9.2 it fails on `request.node._nodeid`, which pytest no
longer has; each operation runs as a subtest with `operation.as_strategy()`.
"""

from __future__ import annotations

import itertools
import json
import secrets
import urllib.request
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation, BaseSchema

EXAMPLES = 25
"""Generated requests per operation, at most."""
ACCOUNT_PER_REQUEST = {
    "POST /api/auth/logout",
    "DELETE /api/auth/sessions",
    "POST /api/auth/password",
}
"""Operations that spend their account (see the module's docstring)."""
USER_PATH = "/api/auth/users/{id}"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TIMEOUT = 10.0
"""Seconds one request may take."""

Operation = APIOperation[Any, Any, Any, Any]

# Carrier-grade NAT space (100.64.0.0/10): far from the addresses of other tests.
_addresses = (f"100.{64 + n // 65536}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))


class Api:
    """The app's JSON API for the drill's own set-up: accounts and their tokens."""

    def __init__(self, base_url: str, admin_token: str) -> None:
        self.base_url = base_url
        self.admin_token = admin_token

    def call(self, method: str, path: str, body: Any, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json", "X-Forwarded-For": next(_addresses)}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base_url + path, json.dumps(body).encode(), headers, method=method
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.load(response)

    def account(self, *, admin: bool = False) -> tuple[int, str]:
        """Register an account, an admin if asked, and sign it in: its id and token."""
        credentials = {
            "email": f"schemathesis-{secrets.token_hex(6)}@example.com",
            "password": secrets.token_urlsafe(16),
        }
        user_id = int(self.call("POST", "/api/auth/register", credentials)["id"])
        if admin:
            self.call("PATCH", f"/api/auth/users/{user_id}", {"roles": ["admin"]}, self.admin_token)
        return user_id, self.call("POST", "/api/auth/login", credentials)["access_token"]


@pytest.fixture
def openapi(base_url: str) -> BaseSchema:
    """The app's OpenAPI document, loaded from the running server."""
    return schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")


def test_api_answers_as_documented(
    openapi: BaseSchema, subtests: pytest.Subtests, base_url: str, access_token: str
) -> None:
    api = Api(base_url, access_token)
    floor, _ = api.account()
    for result in openapi.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is broken
        operation = result.ok()
        with subtests.test(operation.label):
            _drill(operation, api, floor)


def _drill(operation: Operation, api: Api, floor: int) -> None:
    admin = "403" in operation.definition.raw.get("responses", {})
    account = api.account(admin=admin)

    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def drill(case: Case[Operation]) -> None:
        user_id, token = (
            api.account(admin=admin) if operation.label in ACCOUNT_PER_REQUEST else account
        )
        if case.path == USER_PATH:
            target = case.path_parameters.get("id")
            if isinstance(target, int) and (target < floor or target == user_id):
                case.path_parameters["id"] = floor
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": next(_addresses)},
            checks=CHECKS,
            timeout=TIMEOUT,
        )

    drill()
