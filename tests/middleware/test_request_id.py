"""An incoming `X-Request-ID` is kept only if it is 1 to 128 characters of letters,
digits, `.`, `_`, `:` and `-`; any other is replaced by one of the app's own."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

OWN_ID = re.compile(r"[0-9a-f]{32}")

KEPT = {
    "one-character": "a",
    "128-characters": "a" * 128,
    "every-allowed-kind": "AZaz09._:-",
    "uuid": "3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c",
}
REPLACED = {
    "empty": "",
    "129-characters": "a" * 129,
    "space": "a b",
    "slash": "a/b",
    "semicolon": "a;b",
    "angle-brackets": "<script>",
    "percent-encoded-line-break": "a%0d%0ab",
    "quote": 'a"b',
    "non-ascii": "caf\u00e9",
}


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [(value, True) for value in KEPT.values()] + [(value, False) for value in REPLACED.values()],
    ids=[*KEPT, *REPLACED],
)
def test_an_incoming_request_id_is_kept_only_if_it_fits(
    make_client: Callable[..., TestClient], incoming: str, kept: bool
) -> None:
    client = make_client()
    response = client.get("/healthz", headers={"X-Request-ID": incoming.encode("latin-1")})
    echoed = response.headers["x-request-id"]
    if kept:
        assert echoed == incoming
    else:
        assert OWN_ID.fullmatch(echoed), echoed
