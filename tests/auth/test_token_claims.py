"""The claims of an access token: which are required, and `roles`, which is not."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from stackkit.auth import AccessTokens, InvalidToken, TokenKeys

KEYS = TokenKeys.from_secret("token-claims-tests-secret-0123456789")


def _minted(**changes: Any) -> str:
    now = int(time.time())
    claims = {"sub": "7", "sid": "s", "jti": "j", "iat": now, "nbf": now, "exp": now + 900,
              "iss": "stackkit", "aud": "stackkit", "roles": ["editor"]}  # fmt: skip
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    headers = {"kid": KEYS.signing_kid, "typ": "at+jwt"}
    return jwt.encode(claims, KEYS.signing_key, algorithm="HS256", headers=headers)


def test_a_token_without_roles_carries_none() -> None:
    tokens = AccessTokens(KEYS)
    assert tokens.verify(_minted()).roles == frozenset({"editor"})
    assert tokens.verify(_minted(roles=None)).roles == frozenset()


@pytest.mark.parametrize(
    "roles", ["admin", {"admin": True}, [1], ["admin", None], [["admin"]]],
    ids=["string", "object", "number", "null-inside", "nested-list"],
)  # fmt: skip
def test_roles_other_than_a_list_of_strings_are_refused(roles: Any) -> None:
    with pytest.raises(InvalidToken):
        AccessTokens(KEYS).verify(_minted(roles=roles))
