"""An authenticated, rate-limited JSON endpoint in stackkit, against bare Starlette, Litestar
and FastAPI, in one run.

Each app serves `GET /api/items`: the same 10-item JSON list (the same bytes), for
the user a Bearer access token names. The token is one HS256 JWT, issued once at
the start by the stackkit server's own `AccessTokens` (`sub`, `sid`, `roles`,
`jti`, `iat`, `nbf`, `exp`, `iss`, `aud`; header `typ: at+jwt` and `kid`); every
app is sent that token, and the peers verify it with the same key
(`TokenKeys.from_secret(SECRET).signing_key`). What each does for a request:

- **stackkit** (`create_app(auth=AuthConfig(User), ...)`, `STACKKIT_ENV=production`,
  access log off, the route's `cache_ttl=0`): the request-id and security-header
  middleware; `AuthenticationMiddleware` reads the header and verifies the token
  (`AccessTokens.verify`: a PyJWT decode the first time, then the verified claims
  kept by token string until it expires, with its expiry and not-before re-checked on
  every request), then reads the token's session from the in-process session store
  and checks that it exists and is the token's user's (the price of immediate
  revocation; a session's owner is decoded once per stored value); the error and
  body-size middleware; `RateLimitMiddleware` finds the route and runs one GCRA check
  for the user in the in-memory limiter (`STACKKIT_RATE_LIMIT` at a billion a second:
  every request pays the check, none is refused) and adds the three `RateLimit-*`
  headers; the response cache middleware passes the route by (`cache_ttl=0`); the
  controller checks access, calls the handler and validates and serialises its list
  of pydantic models against the return annotation.
- **bare Starlette** (the baseline): one route returning `JSONResponse` of the list
  of dicts; no middleware, no auth, no rate limit (the token is sent and ignored).
- **bare Starlette + stackkit's headers** (no goal): the same, sending the ten
  headers a stackkit response carries here besides Starlette's own (the security
  headers, HSTS included, `X-Request-ID` and the three `RateLimit-*`): what writing
  and reading them costs, apart from the work behind them.
- **Litestar** (`JWTAuth` and `RateLimitConfig`, the ways its documentation shows):
  its JWT middleware decodes the token with PyJWT on every request (algorithm pinned,
  `iss`, `aud` and the same claims required, `exp` and `nbf` checked), builds its
  `Token` and looks the user up by `sub` (`retrieve_user_handler`: a dictionary, as
  in its documentation); `RateLimitMiddleware` at a billion a second per client
  address in the default in-memory store (under a lock, it reads the client's list
  of request times in the window, JSON-decodes it, prepends the time and stores it
  again, so its cost grows with the requests of the current second) and its four
  `RateLimit-*` headers; the handler returns `msgspec.Struct`s, which Litestar
  serialises.
- **FastAPI** (the way its tutorial "OAuth2 with Password, Bearer with JWT tokens"
  shows, rate limited by slowapi): `OAuth2PasswordBearer` reads the header,
  a `get_current_user` dependency decodes the token with `jwt.decode` (PyJWT, the
  same checks as Litestar's) on every request and looks the user up by `sub` in a
  dictionary; slowapi's `@limiter.limit("1000000000/second")` per client address
  (the `limits` library's fixed window, in memory) with its `X-RateLimit-*` headers
  on (`headers_enabled=True`, as the other two send theirs); the route's return
  annotation `list[Item]` has FastAPI validate and serialise the pydantic models.

Each app runs in one uvicorn worker (uvloop, httptools, access log off) and is
loaded with wrk over loopback (32 connections, the same `Authorization` header for
all); each figure is the median of `--rounds` rounds that take the apps in turn,
so that a slow spell of the machine hits all alike. Before timing, the script
checks that every app sends the same body to the token, that the three with
auth refuse a request without it and one with a forged token (401), and that
their rate-limit headers are there; wrk's runs must see no error and no non-2xx
answer. Goals (requests/s): stackkit at least 0.75x bare Starlette, 1.0x
Litestar and 1.2x FastAPI.

    python benchmarks/peers.py [--seconds 5] [--rounds 3]

Needs `wrk` on PATH (Debian: `apt-get install wrk`) and the `bench` extra
(litestar, fastapi, slowapi). Targets 127.0.0.1 only.
"""

# No `from __future__ import annotations`: Litestar and FastAPI read the handlers' and
# dependencies' annotations at run time, and those name classes local to the factories.

import argparse
import json
import os
import shutil
import statistics
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Annotated, Any

from harness import Load, Row, free_port, parse_load, serve, wrk
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stackkit import Controller, Settings, create_app
from stackkit.auth import AuthConfig, TokenKeys
from stackkit.middleware.security_headers import security_headers

SECRET = "peers-benchmark-9f3Kq7ZxLm2Rv8Tw5Yb4Hn6"  # noqa: S105 (a benchmark's own)
ISSUER = AUDIENCE = "stackkit"
CLAIMS = ["sub", "sid", "exp", "iat", "nbf", "jti", "iss", "aud"]
KEY = TokenKeys.from_secret(SECRET).signing_key  # what stackkit signs HS256 tokens with
LIMIT = "1000000000/second"  # no load here reaches it: every request pays the check
USER_ID = "1"
ITEMS = [{"id": n, "name": f"item {n}", "price": n * 1.5} for n in range(1, 11)]
ITEMS_BY_USER = {USER_ID: ITEMS}
USERS = {USER_ID: {"id": USER_ID, "email": "ada@example.com"}}
TOKEN_FILE_VARIABLE = "STACKKIT_BENCH_TOKEN_FILE"  # noqa: S105 (a variable's name)
# What the headers alone cost: the ones a stackkit response carries here beyond bare
# Starlette's (security headers with HSTS, as in production; X-Request-ID; RateLimit-*).
STACKKIT_HEADERS = [
    *security_headers(hsts=True),
    (b"ratelimit-limit", b"1000000000"),
    (b"ratelimit-remaining", b"999999999"),
    (b"ratelimit-reset", b"1"),
    (b"x-request-id", b"0f3a9b7c5d1e2f4a0000000000000001"),
]


class Item(BaseModel):
    id: int
    name: str
    price: float


# The apps, one factory each (`uvicorn peers:<factory> --factory --no-proxy-headers`).


def stackkit_app() -> Starlette:
    """create_app with auth and the default (in-memory) rate limiting; the token is issued
    at start-up by the app's own AccessTokens, for a session it starts, and written to
    the file `STACKKIT_BENCH_TOKEN_FILE` names."""
    from stackkit.auth.user import User  # adds the users table to Model.metadata

    items = Controller("/api/items")
    models = {user: [Item(**item) for item in rows] for user, rows in ITEMS_BY_USER.items()}

    @items.get("", cache_ttl=0)
    async def list_items(request: Request) -> list[Item]:
        return models[request.user.id]

    async def issue_token(app: Starlette) -> None:
        auth = app.state.auth
        session = await auth.sessions.create(USER_ID)
        token = auth.tokens.issue(USER_ID, session.id).token
        Path(os.environ[TOKEN_FILE_VARIABLE]).write_text(token)  # noqa: ASYNC240 (once, at start)

    settings = Settings(
        env="production",
        secret_key=SECRET,
        database_url="sqlite:///:memory:",  # unused: no route here reads the database
        access_log=False,
        rate_limit=LIMIT,
        access_token_ttl=3600,  # outlives any run
    )
    return create_app(
        settings,
        controllers=[items],
        auth=AuthConfig(User),
        backends=[],
        startup=[issue_token],
    )


def bare_app() -> Starlette:
    async def list_items(request: Request) -> JSONResponse:
        return JSONResponse(ITEMS)

    return Starlette(routes=[Route("/api/items", list_items)])


def bare_headers_app() -> Starlette:
    """Bare Starlette sending the headers a stackkit response carries (no goal: it tells
    the cost of the headers, written and read, from that of the work behind them)."""

    async def list_items(request: Request) -> JSONResponse:
        response = JSONResponse(ITEMS)
        response.raw_headers.extend(STACKKIT_HEADERS)
        return response

    return Starlette(routes=[Route("/api/items", list_items)])


def litestar_app() -> Any:
    import msgspec
    from litestar import Litestar, get
    from litestar import Request as LitestarRequest
    from litestar.connection import ASGIConnection
    from litestar.middleware.rate_limit import RateLimitConfig
    from litestar.security.jwt import JWTAuth, Token

    class LitestarItem(msgspec.Struct):
        id: int
        name: str
        price: float

    @dataclass
    class LitestarUser:
        id: str
        email: str

    users = {user_id: LitestarUser(**user) for user_id, user in USERS.items()}
    items = {user: [LitestarItem(**item) for item in rows] for user, rows in ITEMS_BY_USER.items()}

    async def retrieve_user(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
        return users.get(token.sub)

    jwt_auth = JWTAuth[LitestarUser, Token](
        token_secret=KEY,  # type: ignore[arg-type]  # bytes: PyJWT takes them as they are
        retrieve_user_handler=retrieve_user,
        accepted_issuers=[ISSUER],
        accepted_audiences=[AUDIENCE],
        require_claims=CLAIMS,
    )
    rate_limit = RateLimitConfig(rate_limit=("second", 1_000_000_000))

    @get("/api/items")
    async def list_items(request: LitestarRequest[LitestarUser, Token, Any]) -> list[LitestarItem]:
        return items[request.user.id]

    return Litestar(
        route_handlers=[list_items],
        on_app_init=[jwt_auth.on_app_init],
        middleware=[rate_limit.middleware],
    )


def fastapi_app() -> Any:
    import jwt
    from fastapi import Depends, FastAPI, HTTPException, Response, status
    from fastapi.security import OAuth2PasswordBearer
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.util import get_remote_address

    class User(BaseModel):
        id: str
        email: str

    users = {user_id: User(**user) for user_id, user in USERS.items()}
    items = {user: [Item(**item) for item in rows] for user, rows in ITEMS_BY_USER.items()}
    oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/token")
    limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
    app = FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]

    async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> User:
        unauthorized = HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Could not validate credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
        try:
            payload = jwt.decode(
                token,
                KEY,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": CLAIMS},
            )
        except jwt.InvalidTokenError:
            raise unauthorized from None
        user = users.get(payload.get("sub"))
        if user is None:
            raise unauthorized
        return user

    @app.get("/api/items")
    @limiter.limit(LIMIT)
    async def list_items(
        request: Request, response: Response, user: Annotated[User, Depends(get_current_user)]
    ) -> list[Item]:
        return items[user.id]

    return app


# (label, factory, goal: stackkit's requests/s over the app's, at least); the baseline first.
APPS = [
    ("bare Starlette", "bare_app", 0.75),
    ("bare Starlette + stackkit's headers", "bare_headers_app", None),
    ("stackkit", "stackkit_app", None),
    ("Litestar", "litestar_app", 1.0),
    ("FastAPI", "fastapi_app", 1.2),
]
AUTHENTICATED = ("stackkit", "Litestar", "FastAPI")
RATE_LIMIT_HEADERS = {
    "stackkit": "RateLimit-Remaining",
    "Litestar": "RateLimit-Remaining",
    "FastAPI": "X-RateLimit-Remaining",
}


def _get(port: int, token: str | None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/items")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http://127.0.0.1)
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def check(ports: dict[str, int], token: str) -> None:
    """Same body everywhere; the authenticated apps refuse no token and a forged one, and
    send their rate-limit headers (made from each request's check)."""
    expected = json.dumps(ITEMS, separators=(",", ":")).encode()
    header, payload, _ = token.split(".")
    forged = f"{header}.{payload}.{'A' * 43}"
    for label, port in ports.items():
        status, headers, body = _get(port, token)
        if status != 200 or body != expected:
            raise SystemExit(f"{label}: {status} {body[:200]!r}, not the expected list")
        if label not in AUTHENTICATED:
            continue
        for name, sent in (("no token", None), ("a forged token", forged)):
            refused, _, _ = _get(port, sent)
            if refused != 401:
                raise SystemExit(f"{label} answered {refused} to {name}, not 401")
        if headers.get(RATE_LIMIT_HEADERS[label]) is None:
            raise SystemExit(f"{label}: no {RATE_LIMIT_HEADERS[label]} header")


def measure(seconds: int = 5, rounds: int = 3, connections: int = 32) -> list[Row]:
    """Serve the four apps, load each `rounds` times for `seconds`; one row per peer.

    Raises:
        SystemExit: wrk missing, an app that does not start or answers wrongly.
    """
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk)")
    samples: dict[str, list[Load]] = {label: [] for label, _, _ in APPS}
    with tempfile.TemporaryDirectory() as folder:
        token_file = Path(folder) / "token"
        ports = {label: free_port() for label, _, _ in APPS}
        servers = []
        try:
            for label, factory, _ in APPS:
                environment = {TOKEN_FILE_VARIABLE: str(token_file)}
                log = Path(folder) / f"{factory}.log"
                servers.append(serve(f"peers:{factory}", ports[label], log, environment))
            token = token_file.read_text()
            check(ports, token)
            headers = {"Authorization": f"Bearer {token}"}
            for label in ports:  # warm up
                wrk(f"http://127.0.0.1:{ports[label]}/api/items", 1, headers=headers)
            # Rounds interleave the apps, so that a slow spell of the machine hits all alike.
            for _ in range(rounds):
                for label in ports:
                    url = f"http://127.0.0.1:{ports[label]}/api/items"
                    output = wrk(url, seconds, connections=connections, headers=headers)
                    samples[label].append(parse_load(output))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
    for label, loads in samples.items():
        errors = sum(load.errors for load in loads)
        if errors:
            raise SystemExit(f"{label}: {errors} socket errors or non-2xx answers under load")

    rate = {
        label: statistics.median(load.rate for load in loads) for label, loads in samples.items()
    }
    p99 = {
        label: statistics.median(load.p99_ms for load in loads) for label, loads in samples.items()
    }
    rows = []
    for label, _, goal in APPS:
        if label == "stackkit":
            continue
        ratio = rate["stackkit"] / rate[label]
        rows.append(
            Row(
                f"peers: auth + rate-limited GET vs {label}",
                f"{rate['stackkit']:,.0f} req/s, p99 {p99['stackkit']:.1f} ms",
                f"{rate[label]:,.0f} req/s, p99 {p99[label]:.1f} ms",
                ratio,
                "" if goal is None else f">= {goal}x",
                None if goal is None else ratio >= goal,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if min(args.seconds, args.rounds, args.connections) < 1:
        raise SystemExit("--seconds, --rounds and --connections must be 1 or more")
    rows = measure(args.seconds, args.rounds, args.connections)
    print(
        f"GET /api/items, median of {args.rounds} x {args.seconds} s, wrk -t2 -c{args.connections}"
    )
    print(f"{'app':36} {'req/s and p99':>26} {'stackkit vs it':>15}  goal")
    print(f"{'stackkit':36} {rows[0].stackkit:>26}")
    for row in rows:
        label = row.benchmark.removeprefix("peers: auth + rate-limited GET vs ")
        verdict = "" if row.met is None else f"{row.goal}: " + ("met" if row.met else "MISSED")
        print(f"{label:36} {row.baseline:>26} {row.ratio:14.2f}x  {verdict}")


if __name__ == "__main__":
    main()
