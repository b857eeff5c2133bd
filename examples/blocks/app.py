"""stackkit's building blocks wired by hand into a plain Starlette app: no CLI, no `create_app`.

A bookmarks API. Each block is built in `build_app` and handed to the next, in the
order `create_app` uses (src/stackkit/app.py), so that nothing happens out of sight:
settings, the data layer, controllers, problem+json errors, authentication, rate
limits and the response cache. Run it with `python examples/blocks/app.py`, then:

    curl -X POST localhost:8000/api/auth/login -H 'content-type: application/json' \
        -d '{"username": "demo", "password": "demo-password"}'
    curl -X POST localhost:8000/api/bookmarks -H 'authorization: Bearer <access_token>' \
        -H 'content-type: application/json' -d '{"url": "https://example.com", "title": "Ex"}'
    curl 'localhost:8000/api/bookmarks?limit=10' -H 'authorization: Bearer <access_token>'

On Redis, also register a handler that turns `StoreUnavailable` into a 503, as
`create_app` does (memory stores, used here, never fail).
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request

from stackkit import ProblemError, Settings, load_settings
from stackkit.auth import AccessTokens, AuthenticationMiddleware, TokenKeys
from stackkit.cache import MemoryStore, ResponseCacheMiddleware, SessionStore
from stackkit.db import Database, Model, Repository, Service
from stackkit.http import Controller, RouteFinder, http_exception_handler, problem_error_handler
from stackkit.middleware import InternalErrorMiddleware, RequestIdMiddleware
from stackkit.ratelimit import MemoryRateLimitBackend, RateLimiter, RateLimitMiddleware

DEMO_USER_ID = "1"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - a demo account; real apps use UserService
LOGIN_LIMIT = "3/minute"


# The data layer: a table, its queries (Repository), and the unit of work around them
# (Service), which also turns data errors into problems (a duplicate url is a 409).
class Bookmark(Model):  # id, created_at, updated_at and version come from Model
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(String(200), index=True)


class BookmarkRepository(Repository[Bookmark]):
    model = Bookmark
    sortable = ("created_at",)


class BookmarkService(Service[Bookmark]):
    repository = BookmarkRepository


# What the routes take and answer: pydantic models, validated before a handler runs.
class BookmarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, pattern=r"^https?://\S+$")
    title: str = Field(min_length=1, max_length=200)


class BookmarkOut(BookmarkIn):
    id: int
    created_at: datetime


class PageQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = None


class BookmarkPage(BaseModel):
    items: list[BookmarkOut]
    next_cursor: str | None


class LoginIn(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int


@dataclass(frozen=True)
class Parts:
    """The blocks the handlers use, built once per app by `build_app`."""

    bookmarks: BookmarkService
    tokens: AccessTokens
    sessions: SessionStore


def parts_of(request: Request) -> Parts:
    parts: Parts = request.app.state.parts
    return parts


# Controllers: routes are authenticated unless public=True, and each may name its own
# rate limit and cache lifetime, which the middleware below read from the route.
auth = Controller("/api/auth", tags=["auth"], public=True)
bookmarks = Controller("/api/bookmarks", tags=["bookmarks"])


@auth.post("/login", rate_limit=LOGIN_LIMIT, rate_limit_by="address")
async def login(request: Request, body: LoginIn) -> TokenOut:
    """Sign the demo user in: a session, and an access token that names it."""
    known = hmac.compare_digest(body.username.encode(), DEMO_USERNAME.encode())
    if not (hmac.compare_digest(body.password.encode(), DEMO_PASSWORD.encode()) and known):
        raise ProblemError(401, "Invalid username or password.")
    parts = parts_of(request)
    session = await parts.sessions.create(DEMO_USER_ID)
    issued = parts.tokens.issue(DEMO_USER_ID, session.id)
    return TokenOut(access_token=issued.token, expires_in=issued.expires_in)


@auth.post("/logout", public=False)
async def logout(request: Request) -> None:
    """End the session: its access tokens stop working at once."""
    await parts_of(request).sessions.revoke(request.user.session_id)


@bookmarks.get("")
async def list_bookmarks(request: Request, query: PageQuery) -> BookmarkPage:
    """Newest first, a page at a time: pass `next_cursor` back as `cursor`."""
    page = await parts_of(request).bookmarks.page(limit=query.limit, cursor=query.cursor)
    return BookmarkPage.model_validate(page, from_attributes=True)


@bookmarks.post("", status_code=201)
async def create_bookmark(request: Request, body: BookmarkIn) -> BookmarkOut:
    """Save a bookmark; a url saved already is a 409 problem."""
    row = await parts_of(request).bookmarks.create(body.model_dump())
    return BookmarkOut.model_validate(row, from_attributes=True)


def build_app(settings: Settings) -> Starlette:
    """The app, its blocks built from `settings`: a new one has fresh stores and limits."""
    secret = settings.secret_key.get_secret_value()
    # The database: engines opened by the lifespan; the secret signs page cursors.
    database = Database(settings.database_url, cursor_secret=secret)
    # Authentication: HS256 keys derived from the secret, short-lived access tokens, and
    # server-side sessions every token must name. Sessions get a store of their own, so
    # that cached responses never evict them.
    tokens = AccessTokens(
        TokenKeys.from_secret(secret),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=settings.access_token_ttl,
    )
    sessions = SessionStore(
        MemoryStore(max_entries=100_000),
        ttl=settings.session_ttl,
        max_lifetime=settings.session_max_lifetime,
    )
    routes = [*auth.routes, *bookmarks.routes]
    # Rate limits and the cache act before the router: they find the route themselves.
    find_route = RouteFinder(routes)
    middleware = [  # outermost first
        # Every response gets an X-Request-ID, which problems repeat.
        Middleware(RequestIdMiddleware, access_log=settings.access_log),
        # An unhandled exception becomes a 500 problem, its traceback logged.
        Middleware(InternalErrorMiddleware, expose_errors=not settings.is_production),
        # request.user from the bearer token; a route that is not public then 401s.
        Middleware(AuthenticationMiddleware, tokens=tokens, sessions=sessions),
        # GCRA limits per user (or address): the route's own, else the default; 429.
        Middleware(
            RateLimitMiddleware,
            limiter=RateLimiter(MemoryRateLimitBackend()),
            default=settings.rate_limit,
            find_route=find_route,
        ),
        # GET answers kept per user, dropped by any write under /api/bookmarks.
        Middleware(
            ResponseCacheMiddleware,
            store=MemoryStore(prefix="cache:"),
            find_route=find_route,
            default_ttl=settings.cache_ttl,
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with database:
            # A demo creates its table; a real app runs its migrations instead.
            table = Model.metadata.tables[Bookmark.__tablename__]
            async with database.engine.begin() as connection:
                await connection.run_sync(Model.metadata.create_all, tables=[table])
            yield

    app = Starlette(
        routes=routes,
        middleware=middleware,
        # ProblemError (validation, 401, 404, 409, ...) and Starlette's HTTPException
        # (404, 405) become application/problem+json responses.
        exception_handlers={
            ProblemError: problem_error_handler,
            HTTPException: http_exception_handler,
        },
        lifespan=lifespan,
    )
    # As create_app does: /api/bookmarks/ is a 404, not a redirect built from the Host header.
    app.router.redirect_slashes = False
    app.state.parts = Parts(BookmarkService(database), tokens, sessions)
    return app


app = build_app(load_settings())

if __name__ == "__main__":
    # The client's address comes from STACKKIT_TRUSTED_PROXIES alone, not uvicorn's
    # reading of X-Forwarded-For; stackkit logs each request itself.
    uvicorn.run(app, host="127.0.0.1", port=8000, access_log=False, proxy_headers=False)
