"""An authentication backend of an app's own: service accounts that call the API with
an `X-Api-Key` header, beside the users' bearer tokens."""

from __future__ import annotations

import hmac
from collections.abc import Collection
from dataclasses import dataclass

from starlette.types import Scope

from stackkit.auth import AuthenticationBackend, AuthenticationFailed


@dataclass(frozen=True)
class ServiceAccount:
    """A `Principal`: what `request.user` needs."""

    id: str
    roles: Collection[str] = ()
    is_authenticated: bool = True

    @property
    def display_name(self) -> str:
        return self.id


class ApiKeyBackend(AuthenticationBackend):
    def __init__(self, keys: dict[str, ServiceAccount]) -> None:
        self.keys = {key.encode(): account for key, account in keys.items()}

    async def authenticate(self, scope: Scope) -> ServiceAccount | None:
        given = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
        if given is None:
            return None  # not this backend's kind: the next one is asked
        for key, account in self.keys.items():
            if hmac.compare_digest(key, given):
                return account
        raise AuthenticationFailed("This API key is not known.")
