"""A cached GET answered by `HitPathMiddleware` is the answer the whole stack gives: its
status, headers and body, its access line, the limit counted once. Whatever it does not
answer (a miss, a refused token or limit, a conditional GET, a HEAD, a body, a CORS
request) goes down the stack, and comes out as it did without the hit path.

Each case runs one sequence of requests against two apps alike but for the hit path,
on the embedded defaults and on PostgreSQL + Redis, and compares the answers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from stackkit import Controller, Settings
from stackkit.middleware.hit_path import HitPathMiddleware
from stackkit.middleware.response_cache import CachedEntry, invalidate
from stackkit.testing import delete_keys, unique_key_prefix
from tests.auth.conftest import login, register


def routes() -> Controller:
    api = Controller()

    @api.get("/api/items")
    async def items() -> list[int]:
        return [1, 2, 3]

    @api.get("/api/public", public=True)
    async def public() -> dict[str, str]:
        return {"hello": "world"}

    @api.get("/api/unlimited", rate_limit=False)
    async def unlimited() -> list[str]:
        return ["no", "limit"]

    @api.get("/api/own-limit", rate_limit="3/minute")
    async def own_limit() -> list[str]:
        return ["own"]

    @api.get("/api/by-address", rate_limit="4/minute", rate_limit_by="address")
    async def by_address() -> list[str]:
        return ["address"]

    @api.get("/api/uncached", cache_ttl=0)
    async def uncached() -> list[str]:
        return ["fresh"]

    return api


class Counted:
    """What reached the stack below the hit path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


@dataclass
class Twins:
    """The app with its hit path (`fast`) and without (`slow`), each with a user signed in."""

    fast: TestClient
    slow: TestClient
    below: Counted | None
    """Counts the fast app's requests that went past its hit path."""
    tokens: dict[str, dict[str, Any]]

    def both(
        self, method: str, path: str, headers: dict[str, str] | None = None, **options: Any
    ) -> tuple[Any, Any]:
        answers = []
        for name in ("fast", "slow"):
            client: TestClient = getattr(self, name)
            sent = dict(headers or {})
            if sent.get("Authorization") == "<token>":
                sent["Authorization"] = f"Bearer {self.tokens[name]['access_token']}"
            answers.append(client.request(method, path, headers=sent, **options))
        return answers[0], answers[1]


TIMED = ("ratelimit-reset", "retry-after")
"""Headers in whole seconds from now: the twins answer a moment apart, and on a loaded
machine that moment may cross a second."""


def normalized(response: Any) -> tuple[int, list[tuple[str, str]], str]:
    """Status, headers (sorted) and body, with the request id, made for each request, out
    (and so the ETag of a problem, which names it), and the `TIMED` headers as names."""
    request_id = response.headers.get("x-request-id", "")
    left_out = {"x-request-id"} if response.status_code < 400 else {"x-request-id", "etag"}
    headers = sorted(
        (k, "<seconds>" if k in TIMED else v)
        for k, v in response.headers.items()
        if k not in left_out
    )
    body = response.text.replace(request_id, "<id>") if request_id else response.text
    return response.status_code, headers, body


def assert_same(fast: Any, slow: Any, *context: Any) -> None:
    """The twins' answers are the same, but for the `TIMED` headers, a second apart at most."""
    assert normalized(fast) == normalized(slow), context
    for name in TIMED:
        if name in fast.headers:
            assert abs(int(fast.headers[name]) - int(slow.headers[name])) <= 1, (name, context)


@pytest.fixture(params=["embedded", "redis"])
def make_twins(
    request: pytest.FixtureRequest, make_auth_client: Callable[..., TestClient]
) -> Iterator[Callable[..., Twins]]:
    prefixes: list[str] = []

    def make(**options: Any) -> Twins:
        clients = []
        for _ in range(2):
            values: dict[str, Any] = {"env": "test", "database_url": "sqlite:///:memory:"}
            if request.param == "redis":
                prefixes.append(unique_key_prefix())
                values |= {
                    "redis_url": request.getfixturevalue("redis_url"),
                    "cache_prefix": prefixes[-1],
                }
            clients.append(
                make_auth_client(
                    Settings(**values, **options), controllers=[routes()], address=PROXY
                )
            )
        fast, slow = clients
        # Built already (the lifespan ran through it): built again without the hit path.
        app: Any = slow.app
        app.user_middleware = [m for m in app.user_middleware if m.cls is not HitPathMiddleware]
        app.middleware_stack = app.build_middleware_stack()
        assert not _hit_paths(app)
        tokens = {}
        for name, client in (("fast", fast), ("slow", slow)):
            register(client)
            tokens[name] = login(client)
        hit_paths = _hit_paths(fast.app)
        # CORS adds its headers to every answer: no hit path then.
        assert len(hit_paths) == (0 if options.get("cors_origins") else 1)
        below = None
        if hit_paths:
            below = hit_paths[0].app = Counted(hit_paths[0].app)
        return Twins(fast, slow, below, tokens)

    yield make
    for prefix in prefixes:
        delete_keys(request.getfixturevalue("redis_url"), prefix)


SIGNED_IN = {"Authorization": "<token>"}
ITEMS_ETAG = '"a615eeaee21de5179de080de8c3052c8"'
"""The ETag of `[1,2,3]`, which `/api/items` answers."""
PROXY = "10.0.0.1"
"""Where the test client's requests come from; trusted in the cases that say so."""

# Each: the settings, then the requests (method, path, headers), in order.
CASES: dict[str, tuple[dict[str, Any], list[tuple[str, str, dict[str, str]]]]] = {
    "a miss, then hits": ({}, [("GET", "/api/items", SIGNED_IN)] * 4),
    "a query, in any order": (
        {},
        [
            ("GET", "/api/items?b=2&a=1", SIGNED_IN),
            ("GET", "/api/items?a=1&b=2", SIGNED_IN),
            ("GET", "/api/items?a=1&b=2&c", SIGNED_IN),
            ("GET", "/api/items?a=1&b=2&c=", SIGNED_IN),
        ],
    ),
    "the limit counted once per hit, then refused": (
        {"rate_limit": "3/minute"},
        [("GET", "/api/items", SIGNED_IN)] * 5,
    ),
    "a route's own limit": ({}, [("GET", "/api/own-limit", SIGNED_IN)] * 5),
    "a limit by address": ({}, [("GET", "/api/by-address", SIGNED_IN)] * 6),
    "a limit by address, from two": (
        {"trusted_proxies": ["10.0.0.0/8"]},
        [
            ("GET", "/api/by-address", {**SIGNED_IN, "X-Forwarded-For": address})
            for address in ["192.0.2.1", "192.0.2.2"] * 3 + ["192.0.2.1", "192.0.2.1"]
        ],
    ),
    "anonymous, from two": (
        {"trusted_proxies": ["10.0.0.0/8"], "rate_limit": "2/minute"},
        [
            ("GET", "/api/public", {"X-Forwarded-For": address})
            for address in ["192.0.2.1", "192.0.2.2"] * 3
        ],
    ),
    "no limit": ({"rate_limit": "1/minute"}, [("GET", "/api/unlimited", SIGNED_IN)] * 3),
    "anonymous": ({}, [("GET", "/api/public", {})] * 3),
    "anonymous, limited": ({"rate_limit": "2/minute"}, [("GET", "/api/public", {})] * 4),
    "anonymous to a private route": ({}, [("GET", "/api/items", {})] * 2),
    "never cached": ({}, [("GET", "/api/uncached", SIGNED_IN)] * 2),
    "a request id of the client's": (
        {},
        [
            ("GET", "/api/items", {**SIGNED_IN, "X-Request-ID": "abc-123"}),
            ("GET", "/api/items", {**SIGNED_IN, "X-Request-ID": "abc-123"}),
            ("GET", "/api/items", {**SIGNED_IN, "X-Request-ID": "bad id\x7f"}),
        ],
    ),
    "a bad token": (
        {},
        [
            ("GET", "/api/items", SIGNED_IN),
            ("GET", "/api/items", {"Authorization": "Bearer nope"}),
            ("GET", "/api/items", {"Authorization": "Basic nope"}),
            ("GET", "/api/items", {"Authorization": ""}),
            ("GET", "/api/public", {"Authorization": "Bearer nope"}),
        ],
    ),
    "a conditional GET, a HEAD, a body": (
        {},
        [
            ("GET", "/api/items", SIGNED_IN),
            ("GET", "/api/items", {**SIGNED_IN, "If-None-Match": '"nothing"'}),
            ("GET", "/api/items", {**SIGNED_IN, "If-None-Match": ITEMS_ETAG}),
            ("HEAD", "/api/items", SIGNED_IN),
            ("GET", "/api/items", {**SIGNED_IN, "Content-Length": "0"}),
            ("GET", "/api/items", {**SIGNED_IN, "Transfer-Encoding": "chunked"}),
        ],
    ),
    "CORS": (
        {"cors_origins": ["https://app.example"]},
        [
            ("GET", "/api/items", {**SIGNED_IN, "Origin": "https://app.example"}),
            ("GET", "/api/items", {**SIGNED_IN, "Origin": "https://app.example"}),
            ("GET", "/api/items", {**SIGNED_IN, "Origin": "https://elsewhere.example"}),
            ("GET", "/api/items", SIGNED_IN),
        ],
    ),
    "unknown paths": ({}, [("GET", "/api/nothing", SIGNED_IN), ("GET", "/nothing", {})]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_answers_are_the_stacks(make_twins: Callable[..., Twins], case: str) -> None:
    options, requests = CASES[case]
    twins = make_twins(**options)
    for method, path, headers in requests:
        fast, slow = twins.both(method, path, headers)
        assert_same(fast, slow, method, path, headers)
        if headers.get("If-None-Match") == ITEMS_ETAG:
            assert fast.status_code == 304
        assert fast.status_code < 500
        if headers.get("X-Request-ID") == "abc-123":
            assert fast.headers["x-request-id"] == "abc-123"


def test_a_hit_is_answered_before_the_stack(make_twins: Callable[..., Twins]) -> None:
    twins = make_twins()
    assert twins.below is not None
    fast, _ = twins.both("GET", "/api/items", SIGNED_IN)
    assert fast.headers["cache-status"].endswith("stored")
    assert twins.below.calls == 1
    for _ in range(3):
        fast, _ = twins.both("GET", "/api/items", SIGNED_IN)
        assert fast.headers["cache-status"] == "stackkit; hit"
    assert twins.below.calls == 1
    for path, headers in [("/api/public", {}), ("/api/unlimited", SIGNED_IN)]:
        calls = twins.below.calls
        for _ in range(2):
            fast, _ = twins.both("GET", path, headers)
        assert fast.headers["cache-status"] == "stackkit; hit"
        assert twins.below.calls == calls + 1


@pytest.mark.parametrize("path", ["/api/items", "/api/unlimited"])
def test_a_revoked_session_is_refused_at_once(make_twins: Callable[..., Twins], path: str) -> None:
    twins = make_twins()
    for _ in range(2):
        twins.both("GET", path, SIGNED_IN)
    for name in ("fast", "slow"):
        client: TestClient = getattr(twins, name)
        auth = client.app.state.auth  # type: ignore[attr-defined]
        session_id = auth.tokens.verify(twins.tokens[name]["access_token"]).session_id
        assert client.portal is not None
        client.portal.call(auth.sessions.revoke, session_id)
    fast, slow = twins.both("GET", path, SIGNED_IN)
    assert fast.status_code == 401
    assert_same(fast, slow)


def test_a_write_makes_the_next_get_a_miss(make_twins: Callable[..., Twins]) -> None:
    twins = make_twins()
    for _ in range(2):
        fast, _ = twins.both("GET", "/api/items", SIGNED_IN)
    assert fast.headers["cache-status"] == "stackkit; hit"
    store = _store_of(twins.fast)
    assert twins.fast.portal is not None
    twins.fast.portal.call(invalidate, store, ["/api/items"])
    fast, _ = twins.both("GET", "/api/items", SIGNED_IN)
    assert fast.headers["cache-status"].endswith("stored")


def _hit_paths(app: Any) -> list[HitPathMiddleware]:
    found, layer = [], app.middleware_stack
    while layer is not None:
        if isinstance(layer, HitPathMiddleware):
            found.append(layer)
        layer = getattr(layer, "app", None)
    return found


def _store_of(client: TestClient) -> Any:
    return _hit_paths(client.app)[0].store


def test_a_hits_access_line_is_the_stacks(
    make_twins: Callable[..., Twins], caplog: pytest.LogCaptureFixture
) -> None:
    twins = make_twins()
    twins.both("GET", "/api/items?x=1", SIGNED_IN)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="stackkit.access"):
        fast, _ = twins.both("GET", "/api/items?x=1", {**SIGNED_IN, "X-Request-ID": "r-1"})
    assert fast.headers["cache-status"] == "stackkit; hit"
    lines = [r for r in caplog.records if r.name == "stackkit.access"]
    assert len(lines) == 2
    duration = re.compile(r" [0-9.]+ ms$")
    messages = [duration.sub(" <t> ms", r.getMessage()) for r in lines]
    assert messages[0] == messages[1] == f"GET /api/items 200 {len(fast.content)} B <t> ms"
    for record in lines:
        assert getattr(record, "request_id", None) == "r-1"
        assert (record.status, record.bytes) == (200, len(fast.content))  # type: ignore[attr-defined]


HEADER_NAMES = st.sampled_from(
    [
        "authorization",
        "x-request-id",
        "if-none-match",
        "origin",
        "content-length",
        "x-forwarded-for",
        "accept",
        "cookie",
        "x-other",
    ]
)
HEADER_VALUES = st.one_of(
    st.sampled_from(["<token>", "Bearer", "Bearer ", "bearer <token>", "*", '"x"', "0", "-1"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
)


@pytest.mark.parametrize("make_twins", ["embedded"], indirect=True)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    headers=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4),
    path=st.sampled_from(["/api/items", "/api/public", "/api/items?a=1&a=2", "/api/unlimited"]),
)
def test_any_headers_get_the_stacks_answer(
    make_twins: Callable[..., Twins], headers: list[tuple[str, str]], path: str
) -> None:
    twins = _twins_once(make_twins)
    sent = {}
    for name, value in headers:
        if "<token>" in value:
            value = value.replace("<token>", "{token}")
        sent[name] = value
    answers = []
    for name in ("fast", "slow"):
        client: TestClient = getattr(twins, name)
        token = twins.tokens[name]["access_token"]
        own = {k.encode(): v.replace("{token}", token).encode("latin-1") for k, v in sent.items()}
        client.get(path, headers=own)  # stored, or counted
        answers.append(client.get(path, headers=own))
    fast, slow = answers
    assert fast.status_code < 500
    assert_same(fast, slow)


_made: dict[int, Twins] = {}


def _twins_once(make_twins: Callable[..., Twins]) -> Twins:
    """One pair for every example of a hypothesis test (its fixture runs once)."""
    key = id(make_twins)
    if key not in _made:
        _made.clear()
        _made[key] = make_twins(rate_limit="100000/minute")
    return _made[key]


def test_an_entry_that_cannot_be_read_is_the_stacks_500(
    make_twins: Callable[..., Twins], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a client's doing: the stack answers it as any error, a problem with the
    request id, not a bare 500 from the server."""
    twins = make_twins()
    twins.both("GET", "/api/items", SIGNED_IN)

    def corrupt(raw: bytes) -> Any:
        raise ValueError("a corrupt entry")

    monkeypatch.setattr(CachedEntry, "decode", corrupt)
    fast, slow = twins.both("GET", "/api/items", SIGNED_IN)
    assert fast.status_code == 500
    assert fast.headers["content-type"] == "application/problem+json"
    assert_same(fast, slow)


def test_a_route_the_cache_does_not_keep_is_passed_on_at_once(
    make_twins: Callable[..., Twins], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No token checked, no session read ahead: those routes pay a route look-up alone."""
    twins = make_twins()
    hit_path = _hit_paths(twins.fast.app)[0]
    looked: list[str] = []
    find = hit_path._find

    async def spy(scope: Any, authorization: Any) -> Any:
        looked.append(scope["path"])
        return await find(scope, authorization)

    monkeypatch.setattr(hit_path, "_find", spy)
    for path in ("/api/uncached", "/api/nothing", "/api/items"):
        twins.both("GET", path, SIGNED_IN)
    assert looked == ["/api/items"]
