"""`create_app()`: a Starlette app with stackkit's middleware, error handling and lifespan."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import cast

from pydantic_core import to_json
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from stackkit.auth.account_mail import account_email_job
from stackkit.auth.admin import users_controller
from stackkit.auth.api import auth_controller
from stackkit.auth.api_keys import ApiKeyBackend, ApiKeys
from stackkit.auth.api_keys_api import admin_api_keys_controller, api_keys_controller
from stackkit.auth.audit import audit_clean_up_job
from stackkit.auth.audit_api import audit_controllers
from stackkit.auth.config import Auth, AuthConfig
from stackkit.auth.email_api import email_controller
from stackkit.auth.middleware import AuthenticationMiddleware
from stackkit.auth.read_ahead import ReadAhead, ReadAheadMiddleware
from stackkit.auth.reset_mail import reset_email_job
from stackkit.auth.two_factor import TwoFactor
from stackkit.auth.two_factor_api import two_factor_controller
from stackkit.backends import Backend
from stackkit.cache.redis_store import RedisStore
from stackkit.cache.registry import default_cache_store, stores_for
from stackkit.cache.store import KeyValueStore, Store, StoreUnavailable
from stackkit.db.database import Database
from stackkit.db.model import Model
from stackkit.files import Files, Storage, storage_from_settings
from stackkit.files.jobs import file_jobs
from stackkit.health import health_controller
from stackkit.http.openapi import openapi_document
from stackkit.http.problems import (
    ProblemError,
    http_exception_handler,
    problem_error_handler,
    problem_for,
)
from stackkit.http.routing import ADMIN_ROLE, Controller, RouteFinder
from stackkit.http.spa import spa_route
from stackkit.jobs import JobQueue, QueueUnavailable
from stackkit.jobs.api import jobs_controller
from stackkit.logs import configure_logging
from stackkit.middleware import (
    BodySizeLimitMiddleware,
    InternalErrorMiddleware,
    ReadYourWritesMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from stackkit.middleware.body_limit import OwnLimit
from stackkit.middleware.hit_path import HitPathMiddleware
from stackkit.middleware.request_id import RequestIdGenerator
from stackkit.middleware.response_cache import (
    ResponseCacheMiddleware,
    cached_route,
    invalidate,
    lookup_keys,
    namespace_of,
)
from stackkit.middleware.security_headers import content_security_policy, security_headers
from stackkit.ratelimit.backends import RedisRateLimitBackend
from stackkit.ratelimit.backends import backend_for as rate_limit_backend_for
from stackkit.ratelimit.limiter import RateLimiter
from stackkit.ratelimit.middleware import LimitPlanner, RateLimitMiddleware
from stackkit.resources.files import files_controller, upload_limits
from stackkit.resources.meta import meta_controller
from stackkit.resources.resource import Resource, link_relations
from stackkit.settings import Settings, load_settings

__all__ = ["OPENAPI_PATH", "create_app", "default_backends", "default_cache_store"]

OPENAPI_PATH = "/api/openapi.json"
CORS_ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
    "X-Requested-With",
]
CORS_EXPOSED_HEADERS = [
    "Cache-Status",
    "ETag",
    "Location",
    "RateLimit-Limit",
    "RateLimit-Policy",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "X-Request-ID",
]


def default_backends(settings: Settings) -> list[Backend]:
    """The database (with its read replicas), which `/readyz` checks."""
    database = Database(
        settings.database_url,
        replica_urls=settings.database_replica_urls,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        cursor_secret=settings.secret_key.get_secret_value(),
    )
    return [database]


def create_app(
    settings: Settings | None = None,
    *,
    controllers: Sequence[Controller] = (),
    resources: Sequence[Resource] = (),
    routes: Sequence[BaseRoute] = (),
    backends: Sequence[Backend] | None = None,
    middleware: Sequence[Middleware] = (),
    startup: Sequence[Callable[[Starlette], Awaitable[None]]] = (),
    cache_store: Store | None = None,
    stores: Mapping[str, KeyValueStore] | None = None,
    user_model: type[Model] | None = None,
    auth: AuthConfig | None = None,
    jobs: JobQueue | None = None,
    storage: Storage | None = None,
    frontend: Path | None = None,
    title: str = "stackkit app",
    version: str = "0.1.0",
    configure_logs: bool = True,
) -> Starlette:
    """Build the ASGI app.

    Args:
        settings: defaults to `load_settings()` (environment and `.env`).
        controllers: the app's routes; they appear in the OpenAPI document.
        resources: CRUD resources (`/api/<name>`), listed at `/api/meta/resources`.
        routes: plain Starlette routes or mounts added after the controllers
            (for example static files); not documented in OpenAPI.
        backends: resources opened by the lifespan and checked by `/readyz`;
            defaults to `default_backends(settings)`.
        middleware: middleware of your own (or an authentication layer of your own, without
            `user_model`), placed after stackkit's authentication and before rate
            limiting and the response cache.
        startup: coroutines run with the app, in order, once the backends are open
            (for example, creating tables in a demo; real apps migrate instead).
        cache_store: where the response cache keeps entries (the same as
            `stores={"cache": ...}`). `STACKKIT_CACHE_TTL=0` turns the cache off.
        stores: named stores (`cache`, `sessions`, `limits`); the others by default,
            from settings (see `stackkit.cache.registry`).
        user_model: turn authentication on with this user table (`UserMixin` columns):
            the auth routes under `/api/auth` (the admins' under `/api/auth/users`),
            access tokens checked on every request, security events in the audit log
            (`stackkit.auth.audit`, read at `/api/admin/audit`).
        auth: the same, with choices of your own (`AuthConfig`); give one or the other.
        jobs: the app's job queue: bound to `DATABASE_URL` unless it has a database of
            its own, opened with the app, checked by `/readyz`, its `state` given the
            app's settings, database, stores and auth. The reset emails then go through
            it, old audit events are deleted daily by it, and admins see it at
            `/api/admin/jobs`. On SQLite the app runs a worker
            in its own process; on PostgreSQL `stackkit worker` runs the jobs.
        storage: where the resources' file fields keep their files (`stackkit.files`);
            by default `STACKKIT_STORAGE_URL`'s, opened and checked with the app when a
            resource has a file field. The files' records are in `stackkit_files`; the
            files of deleted rows are deleted through `jobs` when given.
        frontend: a built single-page app (a Vite `dist/` folder) to serve at every
            path that is not the API's; see `stackkit.http.spa.frontend_directory`.
        title: the API's title, for the OpenAPI document.
        version: the API's version, for the OpenAPI document.
        configure_logs: install stackkit's log handler (JSON in production).

    The middleware stack, outermost first:

    0. `HitPathMiddleware`, unless `STACKKIT_CACHE_TTL=0`, `STACKKIT_CORS_ORIGINS` or
       `middleware` is set: a cached GET answered at once, as the layers below would.
    1. `RequestIdMiddleware`: `X-Request-ID`, the access log line.
    2. `SecurityHeadersMiddleware`: nosniff, frame and referrer policy, CSP, HSTS.
    3. `CORSMiddleware`, when `STACKKIT_CORS_ORIGINS` is set.
    4. `InternalErrorMiddleware`: any unhandled exception becomes a 500 problem.
    5. `BodySizeLimitMiddleware`: 413 past `STACKKIT_MAX_BODY_SIZE`.
    6. `ReadAheadMiddleware`, when sessions and rate limits share a Redis server and
       `middleware` is empty: a signed-in request's session, limit and cache reads
       in one round trip.
    7. `AuthenticationMiddleware` (with `user_model` or `auth`), then `middleware`.
    8. `RateLimitMiddleware`: `STACKKIT_RATE_LIMIT` per client, or the route's own.
    9. `ResponseCacheMiddleware`, unless `STACKKIT_CACHE_TTL=0`.
    10. `ReadYourWritesMiddleware`, when the database has read replicas.
    11. Starlette's exception middleware: `ProblemError` and `HTTPException` become problems.

    Raises:
        SettingsError: when `settings` is omitted and the environment is invalid.
        ValueError: both `user_model` and `auth`, or access-token keys that cannot sign.
    """
    settings = settings or load_settings()
    if user_model is not None and auth is not None:
        raise ValueError("give user_model or auth (AuthConfig(user_model, ...)), not both")
    auth_config = auth or (AuthConfig(user_model) if user_model is not None else None)
    if configure_logs:
        log_format = settings.log_format
        if log_format == "auto":
            log_format = "json" if settings.is_production else "text"
        configure_logging(settings.log_level, log_format)
    app_backends = list(default_backends(settings) if backends is None else backends)
    if jobs is not None:
        if not jobs.has_own_database:
            jobs.bind(
                settings.database_url,
                pool_size=settings.database_pool_size,
                connect_timeout=settings.database_connect_timeout,
            )
        app_backends.append(jobs)
    with_files = [resource for resource in resources if resource.file_fields]
    if with_files:
        storage = storage or storage_from_settings(settings)
        app_backends.append(storage)
    given = dict(stores or {})
    if cache_store is not None:
        given.setdefault("cache", cache_store)
    named = stores_for(settings, given, sessions=auth_config is not None)
    for shared in {id(s): s for s in named.values() if s.shared}.values():
        if shared not in app_backends:
            app_backends.append(shared)  # opened by the lifespan, checked by /readyz
    store = cast(Store, named["cache"])  # stores_for checked its capabilities
    names = [backend.name for backend in app_backends]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(
            f"backends must have distinct names; repeated: {duplicated}"
            " (name a second store: RedisStore(url, name='redis-sessions'))"
        )
    expose_errors = not settings.is_production
    limiter = RateLimiter(rate_limit_backend_for(named["limits"]))
    database = next((b for b in app_backends if isinstance(b, Database)), None)
    files = None
    if storage is not None and with_files:
        if database is None:
            raise ValueError("file fields need a database for stackkit_files")
        files = Files(
            storage,
            database,
            secret=settings.secret_key.get_secret_value().encode(),
            tables={r.name: r.service.repository.model.__table__ for r in with_files},
        )
        if jobs is not None:
            files.delete_job = file_jobs(jobs, files)
        controllers = [*controllers, files_controller()]
    auth_parts = None
    api_key_backend = None
    if auth_config is not None:
        session_store = cast(Store, named["sessions"])
        auth_parts = Auth.build(auth_config, settings, store=session_store, limiter=limiter)
        if auth_config.two_factor and database is not None:
            auth_parts.two_factor = TwoFactor(
                database,
                secret_keys=auth_parts.secret_keys,
                issuer=auth_config.two_factor_issuer or title,
            )
        if auth_config.api_keys and database is not None:
            auth_parts.api_keys = ApiKeys(
                database,
                session_store,
                auth_config.user_model,
                roles_needing_two_factor=settings.require_2fa_for,
                two_factor=auth_parts.two_factor,
            )
            api_key_backend = ApiKeyBackend(
                auth_parts.api_keys, trusted_proxies=auth_parts.trusted_proxies
            )
        if jobs is not None:
            auth_parts.reset_job = reset_email_job(jobs)
            auth_parts.account_email_job = account_email_job(jobs)
            audit_clean_up_job(jobs)
        controllers = [
            *controllers,
            auth_controller(auth_parts),
            email_controller(auth_parts),
            api_keys_controller(auth_parts),
            admin_api_keys_controller(auth_parts),
            two_factor_controller(auth_parts),
            users_controller(auth_parts),
            *audit_controllers(auth_parts),
        ]
        if jobs is not None:
            controllers.append(jobs_controller(jobs, auth_config.admin_role))

    # The fixed routes come first, so that no app route (`/{page}`, `/api/{name}`) can
    # answer a load balancer's /readyz in their place.
    link_relations(resources)
    openapi = Controller(tags=["meta"], public=True)
    all_controllers = [
        health_controller(expose_errors=expose_errors),
        openapi,
        meta_controller(resources),
        *controllers,
        *(resource.controller for resource in resources),
    ]
    _add_openapi_route(openapi, all_controllers, title=title, version=version)
    specs = [spec for controller in all_controllers for spec in controller.specs]
    app_routes = [route for controller in all_controllers for route in controller.routes]

    # Both find a request's route before the router does; one finder, one match per path.
    find_route = RouteFinder([*app_routes, *routes])  # the frontend is no controller route
    limits = LimitPlanner(
        default=settings.rate_limit,
        find_route=find_route,
        trusted_proxies=settings.trusted_proxies,
        # The frontend's files (every path but the API's) are not counted.
        unlimited_prefix="/api/" if frontend is not None else None,
    )
    cache_keys = partial(lookup_keys, find_route=find_route)
    # Not with middleware of the app's own between authentication and the limiter: one
    # that changes the path or the user, or answers itself, would leave a limit counted
    # ahead for nothing, or a hit answered past it.
    read_ahead = None
    if auth_parts is not None and not middleware and _reads_ahead(limiter, named["sessions"]):
        read_ahead = ReadAhead(
            tokens=auth_parts.tokens,
            sessions=auth_parts.sessions,
            limiter=limiter,
            plan=limits,
            cache=(store, cache_keys)
            if settings.cache_ttl > 0 and isinstance(store, RedisStore)
            else None,
        )
    request_ids = RequestIdGenerator()
    stack: list[Middleware] = []
    policy = content_security_policy(file_origins=files.storage.browser_origins if files else ())
    # Not with CORS (its headers go on every answer) nor middleware of the app's own.
    if settings.cache_ttl > 0 and not middleware and not settings.cors_origins:
        stack.append(
            Middleware(
                HitPathMiddleware,
                store=store,
                lookup_keys=cache_keys,
                cached=partial(cached_route, find_route=find_route),
                limiter=limiter,
                plan=limits,
                security_headers=security_headers(
                    hsts=settings.is_production, content_security_policy=policy
                ),
                tokens=auth_parts.tokens if auth_parts is not None else None,
                sessions=auth_parts.sessions if auth_parts is not None else None,
                read_ahead=read_ahead,
                api_keys=api_key_backend,
                # Other ways in than the bearer token may know a request without one.
                anonymous=auth_parts is None or not auth_parts.config.backends,
                access_log=settings.access_log,
                request_ids=request_ids,
            )
        )
    stack += [
        Middleware(RequestIdMiddleware, access_log=settings.access_log, ids=request_ids),
        Middleware(
            SecurityHeadersMiddleware, hsts=settings.is_production, content_security_policy=policy
        ),
    ]
    if settings.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                # Credentials (the refresh cookie) only go to origins named one by one.
                allow_credentials="*" not in settings.cors_origins,
                allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=CORS_ALLOWED_HEADERS,
                expose_headers=CORS_EXPOSED_HEADERS,
                max_age=600,
            )
        )
    stack += [
        Middleware(InternalErrorMiddleware, expose_errors=expose_errors),
        Middleware(
            BodySizeLimitMiddleware,
            max_body_size=settings.max_body_size,
            own_limits=[
                OwnLimit(*rule) for resource in with_files for rule in upload_limits(resource)
            ],
        ),
    ]
    if read_ahead is not None:
        stack.append(Middleware(ReadAheadMiddleware, reads=read_ahead))
    if auth_parts is not None:
        stack.append(
            Middleware(
                AuthenticationMiddleware,
                tokens=auth_parts.tokens,
                sessions=auth_parts.sessions,
                fail_open=settings.session_check_fail_open,
                backends=auth_parts.config.backends,
                api_keys=api_key_backend,
            )
        )
    stack += middleware
    stack.append(
        Middleware(
            RateLimitMiddleware,
            limiter=limiter,
            default=limits.default,
            find_route=find_route,
            trusted_proxies=settings.trusted_proxies,
            unlimited_prefix=limits.unlimited_prefix,
        )
    )
    if settings.cache_ttl > 0:
        stack.append(
            Middleware(
                ResponseCacheMiddleware,
                store=store,
                find_route=find_route,
                default_ttl=settings.cache_ttl,
            )
        )
    if settings.cache_ttl > 0 and database is not None:
        _invalidate_on_change(database, store, resources, auth_config)
    if database is not None and database.replica_urls:
        stack.append(
            Middleware(
                ReadYourWritesMiddleware, store=store, window=settings.database_replica_lag_window
            )
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for backend in app_backends:
                await backend.open()
                stack.push_async_callback(backend.close)
            if auth_parts is not None:
                await auth_parts.config.hasher.prepare()
            for hook in startup:
                await hook(app)
            if jobs is not None and not jobs.durable:
                # Embedded: no other process shares the queue, so this one runs it.
                await stack.enter_async_context(jobs.worker_running(concurrency=4))
            if settings.is_production:
                # What start-up made (modules, models, routes) lives as long as the
                # process: keep it out of the collector's full passes, which otherwise
                # stall requests for tens of milliseconds (docs/performance.md).
                gc.collect()
                gc.freeze()
            yield

    all_routes = [*app_routes, *routes]
    if frontend is not None:
        all_routes.append(spa_route(frontend))  # last: it answers whatever else is left
    app = Starlette(
        routes=all_routes,
        middleware=stack,
        exception_handlers={
            ProblemError: problem_error_handler,
            HTTPException: http_exception_handler,
            StoreUnavailable: store_unavailable_handler,
            QueueUnavailable: store_unavailable_handler,
        },
        lifespan=lifespan,
    )
    # An API answers /items/ with 404 rather than a redirect built from the Host header.
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.backends = {backend.name: backend for backend in app_backends}
    app.state.database = database
    app.state.route_specs = specs
    app.state.auth = auth_parts
    app.state.admin_role = auth_config.admin_role if auth_config is not None else ADMIN_ROLE
    app.state.jobs = jobs
    app.state.files = files
    if jobs is not None:
        jobs.state.settings = settings
        jobs.state.database = database
        jobs.state.stores = named
        jobs.state.auth = auth_parts
    return app


def _reads_ahead(limiter: RateLimiter, sessions: KeyValueStore) -> bool:
    """Whether a request's session, limit and cache reads can go in one round trip (one
    per node on a cluster): the limits counted in the sessions' Redis store."""
    backend = limiter.backend
    return isinstance(backend, RedisRateLimitBackend) and backend.store is sessions


async def store_unavailable_handler(request: Request, exc: Exception) -> Response:
    """A store that does not answer (Redis away) where the request needs it (sessions,
    sign-in limits, reset links): 503, retry shortly. Where it can do without, the
    caller handles it first (the response cache serves uncached)."""
    unavailable = ProblemError(
        503, "A service this request needs is not available; retry shortly.",
        headers={"Retry-After": "5"},
    )  # fmt: skip
    return problem_for(unavailable, request.scope)


def _invalidate_on_change(
    database: Database, store: Store, resources: Sequence[Resource], auth: AuthConfig | None
) -> None:
    """Drop the cached answers of every resource (and of the user admin) whose table a
    committed unit of work changed: its own writes, a hand-written service's, rows a
    cascade deleted, a user's deletion; and those of the resources that refer to it."""
    namespaces: dict[str, set[str]] = {}
    owners = [(r.service.repository.model, r.prefix) for r in resources]
    if auth is not None:
        owners.append((auth.user_model, auth.prefix))
    for model, prefix in owners:
        namespaces.setdefault(model.__tablename__, set()).add(namespace_of(prefix))
    # A row another resource includes (`?include=category`) is part of that one's answers,
    # and so are the links of its many-to-many fields (`tag_ids`).
    for resource in resources:
        tables = [relation.target.table_name for relation in resource.relations.values()]
        tables += [table.name for table in resource.service.repository.links.values()]
        for table in tables:
            namespaces.setdefault(table, set()).add(namespace_of(resource.prefix))
    if not namespaces:
        return

    async def changed(tables: frozenset[str]) -> None:
        stale = {namespace for table in tables for namespace in namespaces.get(table, ())}
        await invalidate(store, sorted(stale))

    database.on_change(changed)


def _add_openapi_route(
    meta: Controller, controllers: list[Controller], *, title: str, version: str
) -> None:
    """Serve the OpenAPI document of every controller route at `OPENAPI_PATH`.

    The document is built here, once, so that a model without a JSON Schema stops
    the app at start-up rather than failing every request for the document.
    """

    @meta.get(OPENAPI_PATH, name="openapi")
    async def openapi() -> Response:
        """The OpenAPI 3.1 document of this API."""
        return Response(document, media_type="application/json")

    specs = [spec for controller in controllers for spec in controller.specs]
    document = to_json(openapi_document(specs, title=title, version=version))
