"""Controllers: routes declared with pydantic models for their inputs and output.

A handler names what it needs by parameter name, each typed with a pydantic model:

    items = Controller("/api/items", tags=["items"])

    @items.get("/{item_id}")
    async def get_item(path: ItemPath, query: ItemQuery) -> ItemOut: ...

    @items.post("", status_code=201)
    async def create_item(request: Request, body: ItemIn) -> ItemOut: ...

`path`, `query` and `body` are validated before the handler runs (422 problem
otherwise); `request` is the Starlette request. The return annotation (or the
`response` option) is the response model, serialised by pydantic and documented
in OpenAPI. A handler may also return any Starlette `Response` as it is.

Every route requires authentication unless it is declared `public=True`.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, TypeAdapter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from stackkit.errors import ProblemError
from stackkit.http.params import parse_body, parse_path, parse_query, sequence_fields

__all__ = [
    "ADMIN_ROLE",
    "AUTH_ERROR_SCOPE_KEY",
    "EMAIL_NOT_VERIFIED",
    "ROUTE_SCOPE_KEY",
    "Controller",
    "Handler",
    "MethodsRoute",
    "RouteFinder",
    "RouteSpec",
    "admin_role_of",
    "allowed_methods",
    "check_access",
    "check_verified",
    "is_authenticated",
    "principal",
    "requires",
    "route_spec",
]

Handler = Callable[..., Awaitable[Any]]
_INPUTS = ("path", "query", "body")
_NO_CONTENT = frozenset({204, 304})
_SPEC_ATTRIBUTE = "__stackkit_route__"
_ROLES_ATTRIBUTE = "__stackkit_roles__"
_REGISTERED_ATTRIBUTE = "__stackkit_registered__"
ADMIN_ROLE = "admin"
"""The role that manages an app (its users, every row of its owned resources), unless
`AuthConfig(admin_role=...)` names another; `/api/meta` tells the frontend which."""
ROUTE_SCOPE_KEY = "stackkit.route"
"""Where the endpoint puts its `RouteSpec` in the ASGI scope."""
AUTH_ERROR_SCOPE_KEY = "stackkit.auth_error"
"""Where authentication middleware says why it refused the request's credentials."""
_PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_ANY_ADAPTER: TypeAdapter[Any] = TypeAdapter(Any)


@dataclass(frozen=True)
class RouteSpec:
    """Everything known about one route: how to call it and how to document it."""

    method: str
    path: str
    handler: Handler
    name: str
    public: bool
    status_code: int
    path_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    body_model: type[BaseModel] | None = None
    response_model: Any = None
    """A type pydantic can serialise (a model, `list[Model]`, ...), or None for no schema."""
    summary: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    deprecated: bool = False
    cache_ttl: float | None = None
    """Seconds the response cache keeps a GET response; None: the app's default; 0: never."""
    rate_limit: str | bool | None = None
    """This route's own limit (`"5/minute"`); None: the app's default; False: none."""
    rate_limit_fail_closed: bool = False
    """Refuse (503) rather than allow when the limit cannot be checked (login)."""
    rate_limit_by: Literal["client", "address"] = "client"
    """Whose budget: the signed-in user's, else the address (`client`); or always the
    address, whatever token comes along (`address`: login, registration)."""
    roles: tuple[str, ...] = ()
    """Roles the user must all hold (403 otherwise)."""
    verified: bool = False
    """The user's email address must be verified (403 otherwise, see `check_verified`)."""
    wants_request: bool = False
    query_sequences: frozenset[str] = field(default_factory=frozenset)

    @property
    def response_adapter(self) -> TypeAdapter[Any] | None:
        return None if self.response_model is None else TypeAdapter(self.response_model)


def route_spec(route: object) -> RouteSpec | None:
    """The `RouteSpec` behind a Starlette route made by a `Controller`, else None."""
    endpoint = getattr(route, "endpoint", None)
    spec = getattr(endpoint, _SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, RouteSpec) else None


class Controller:
    """A group of routes under one path prefix, with shared tags and defaults.

    Args:
        prefix: prepended to every route path (`/api/items`).
        tags: OpenAPI tags of every route.
        public: default of `public` for the routes of this controller.
        cache_ttl: default of `cache_ttl` for its GET routes (0: never cached).
        rate_limit: default of `rate_limit` for its routes (False: not limited).
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        tags: Sequence[str] = (),
        public: bool = False,
        cache_ttl: float | None = None,
        rate_limit: str | bool | None = None,
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self.tags = tuple(tags)
        self.public = public
        self.cache_ttl = cache_ttl
        self.rate_limit = rate_limit
        self.specs: list[RouteSpec] = []

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **options)

    def route(
        self,
        method: str,
        path: str,
        *,
        public: bool | None = None,
        status_code: int | None = None,
        response: Any = ...,
        name: str | None = None,
        summary: str | None = None,
        description: str | None = None,
        tags: Sequence[str] = (),
        deprecated: bool = False,
        cache_ttl: float | None = None,
        rate_limit: str | bool | None = None,
        rate_limit_fail_closed: bool = False,
        rate_limit_by: Literal["client", "address"] = "client",
        roles: Sequence[str] = (),
        verified: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declare a route. Raises `TypeError` at declaration when the handler's
        parameters are not ones the controller can supply, or when a public route
        asks for roles or a verified email."""

        def register(handler: Handler) -> Handler:
            self.specs.append(
                build_spec(
                    handler,
                    method=method.upper(),
                    path=_join(self.prefix, path),
                    public=self.public if public is None else public,
                    status_code=status_code,
                    response=response,
                    name=name,
                    summary=summary,
                    description=description,
                    tags=(*self.tags, *tags),
                    deprecated=deprecated,
                    cache_ttl=self.cache_ttl if cache_ttl is None else cache_ttl,
                    rate_limit=self.rate_limit if rate_limit is None else rate_limit,
                    rate_limit_fail_closed=rate_limit_fail_closed,
                    rate_limit_by=rate_limit_by,
                    roles=tuple(roles),
                    verified=verified,
                )
            )
            setattr(handler, _REGISTERED_ATTRIBUTE, True)
            return handler

        return register

    @property
    def routes(self) -> list[Route]:
        """Starlette routes of this controller, for `create_app` or any Starlette app."""
        return [as_route(spec) for spec in self.specs]


def build_spec(
    handler: Handler,
    *,
    method: str,
    path: str,
    public: bool,
    status_code: int | None,
    response: Any,
    name: str | None,
    summary: str | None,
    description: str | None,
    tags: tuple[str, ...],
    deprecated: bool,
    cache_ttl: float | None = None,
    rate_limit: str | bool | None = None,
    rate_limit_fail_closed: bool = False,
    rate_limit_by: Literal["client", "address"] = "client",
    roles: tuple[str, ...] = (),
    verified: bool = False,
) -> RouteSpec:
    if not inspect.iscoroutinefunction(handler):
        raise TypeError(f"{handler.__qualname__} must be an async function")
    try:
        hints = typing.get_type_hints(handler)
    except NameError as error:
        raise TypeError(
            f"{handler.__qualname__}: cannot resolve its annotations ({error}); define the "
            "models it uses at module level"
        ) from None
    models: dict[str, type[BaseModel]] = {}
    wants_request = False
    for parameter in inspect.signature(handler).parameters:
        annotation = hints.get(parameter)
        if parameter == "request":
            wants_request = True
        elif parameter in _INPUTS and _is_model(annotation):
            models[parameter] = annotation
        else:
            raise TypeError(
                f"{handler.__qualname__}: parameter {parameter!r} is not one a controller can "
                "supply: use request, or path/query/body typed with a pydantic model"
            )
    if "body" in models and method in ("GET", "HEAD", "DELETE"):
        raise TypeError(f"{handler.__qualname__}: a {method} route cannot take a body")
    _check_path_model(handler, path, models.get("path"))
    roles = (*roles, *getattr(handler, _ROLES_ATTRIBUTE, ()))
    if roles and public:
        raise TypeError(f"{handler.__qualname__}: a public route cannot require roles")
    if verified and public:
        raise TypeError(f"{handler.__qualname__}: a public route cannot require a verified email")
    response_model = hints.get("return") if response is ... else response
    if response_model is type(None) or _is_response_class(response_model):
        response_model = None
    elif any(_is_response_class(arg) for arg in typing.get_args(response_model)):
        raise TypeError(
            f"{handler.__qualname__}: return either a Response or a model, not a union of both "
            "(or pass response=<model> and annotate -> Response)"
        )
    returns_nothing = hints.get("return") is type(None)
    doc = inspect.getdoc(handler)
    query_model = models.get("query")
    return RouteSpec(
        method=method,
        path=path,
        handler=handler,
        name=name or handler.__name__,
        public=public,
        status_code=status_code or (204 if returns_nothing else 200),
        path_model=models.get("path"),
        query_model=query_model,
        body_model=models.get("body"),
        response_model=response_model,
        # The first paragraph, which may take several lines.
        summary=summary or (" ".join(doc.partition("\n\n")[0].split()) if doc else None),
        description=description or doc,
        tags=tags,
        deprecated=deprecated,
        cache_ttl=cache_ttl,
        rate_limit=rate_limit,
        rate_limit_fail_closed=rate_limit_fail_closed,
        rate_limit_by=rate_limit_by,
        roles=tuple(dict.fromkeys(roles)),
        verified=verified,
        wants_request=wants_request,
        query_sequences=sequence_fields(query_model) if query_model else frozenset(),
    )


def as_route(spec: RouteSpec) -> Route:
    """Wrap a handler into a Starlette endpoint that parses its inputs and serialises its output."""
    adapter = spec.response_adapter or _ANY_ADAPTER
    status_code = spec.status_code
    handler = spec.handler

    async def endpoint(request: Request) -> Response:
        request.scope[ROUTE_SCOPE_KEY] = spec  # for middleware that acts after routing
        if not spec.public:
            check_access(request.scope, spec.roles)
            if spec.verified:
                check_verified(request.scope)
        arguments: dict[str, Any] = {}
        if spec.wants_request:
            arguments["request"] = request
        if spec.path_model is not None:
            arguments["path"] = parse_path(spec.path_model, request)
        if spec.query_model is not None:
            arguments["query"] = parse_query(spec.query_model, spec.query_sequences, request)
        if spec.body_model is not None:
            arguments["body"] = await parse_body(spec.body_model, request)
        result = await handler(**arguments)
        if isinstance(result, Response):
            return result
        if status_code in _NO_CONTENT or (result is None and spec.response_model is None):
            return Response(status_code=status_code)
        # Validating against the response model first drops every field the model does not
        # declare, so a dict or an ORM row with a secret in it cannot leak it.
        validated = adapter.validate_python(result, from_attributes=True)
        return Response(adapter.dump_json(validated), status_code, media_type="application/json")

    setattr(endpoint, _SPEC_ATTRIBUTE, spec)
    endpoint.__name__ = spec.name
    endpoint.__qualname__ = handler.__qualname__
    return MethodsRoute(spec.path, endpoint, methods=[spec.method], name=spec.name)


class MethodsRoute(Route):
    """A route whose answer to a method it does not take names the methods of its
    path across every route of the router, as RFC 9110 asks of `Allow`: a resource
    registers one route per method on `/api/notes/{id}`, and Starlette's own 405 would
    list those of the first route only.

    - `OPTIONS`: 204 with `Allow` (CORS preflights are answered before, by the CORS
      middleware, when it is on).
    - any other method: 405 with the same `Allow`.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods is None or scope["method"] in self.methods:
            await super().handle(scope, receive, send)
            return
        allow = ", ".join(allowed_methods(scope, self))
        if scope["method"] == "OPTIONS":
            await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
            return
        raise HTTPException(405, headers={"Allow": allow})


def allowed_methods(scope: Scope, route: Route | None = None) -> list[str]:
    """The methods of the request's path: those of `route` and of every route of
    `scope["router"]` whose path matches, and `OPTIONS`; in the usual order (GET, HEAD,
    POST, PUT, PATCH, DELETE, OPTIONS, then others)."""
    routes = getattr(scope.get("router"), "routes", None) or []
    methods = {"OPTIONS", *(route.methods or () if route is not None else ())}
    for candidate in routes:
        if (
            isinstance(candidate, Route)
            and candidate.methods
            and candidate.matches(scope)[0] is not Match.NONE
        ):
            methods.update(candidate.methods)
    known = [method for method in _METHOD_ORDER if method in methods]
    return known + sorted(methods.difference(_METHOD_ORDER))


class RouteFinder:
    """Finds the `RouteSpec` a request will reach, for middleware that runs before the
    router (the rate limiter, the response cache). Answers are kept per method and path
    in a bounded LRU, so the routes' patterns are matched once per path."""

    def __init__(self, routes: Sequence[BaseRoute], *, size: int = 10_000) -> None:
        self.routes = list(routes)
        self.size = size
        self._found: OrderedDict[tuple[str, str], RouteSpec | None] = OrderedDict()

    def __call__(self, scope: Scope) -> RouteSpec | None:
        key = (scope["method"], scope["path"])
        if key in self._found:
            self._found.move_to_end(key)
            return self._found[key]
        found = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                found = route_spec(route)
                break
        self._found[key] = found
        if len(self._found) > self.size:
            self._found.popitem(last=False)
        return found


def requires(*roles: str) -> Callable[[Handler], Handler]:
    """Mark a handler as needing every one of `roles` (403 otherwise). Put it under
    the route decorator:

        @admin.get("/users")
        @requires("admin")
        async def list_users() -> list[UserOut]: ...
    """

    def mark(handler: Handler) -> Handler:
        if getattr(handler, _REGISTERED_ATTRIBUTE, False):
            # Above the route decorator it would come too late, and guard nothing.
            raise TypeError(f"{handler.__qualname__}: put @requires(...) under the route decorator")
        setattr(handler, _ROLES_ATTRIBUTE, (*getattr(handler, _ROLES_ATTRIBUTE, ()), *roles))
        return handler

    return mark


def check_access(scope: Scope, roles: Sequence[str] = ()) -> None:
    """Let an authenticated user holding every one of `roles` through.

    Raises:
        ProblemError: 401 without a signed-in user (`WWW-Authenticate: Bearer`, with
            `error="invalid_token"` when credentials were sent but refused, RFC 6750);
            403 when a role is missing.
    """
    if not is_authenticated(scope):
        reason = scope.get(AUTH_ERROR_SCOPE_KEY)
        if reason is None:
            raise ProblemError(
                401, "This route needs authentication.", headers={"WWW-Authenticate": "Bearer"}
            )
        description = str(reason).replace('"', "'")
        challenge = f'Bearer error="invalid_token", error_description="{description}"'
        raise ProblemError(401, str(reason), headers={"WWW-Authenticate": challenge})
    granted = getattr(scope.get("auth"), "scopes", ())
    missing = [role for role in roles if role not in granted]
    if missing:
        raise ProblemError(403, f"This route needs the role {', '.join(missing)}.")


EMAIL_NOT_VERIFIED = "email_not_verified"
"""The `code` of the 403 problem a route declared `verified=True` answers to a user
whose email address is not verified (the SPA offers to send the link again)."""


def check_verified(scope: Scope) -> None:
    """Let a caller whose email address the app counts as verified through: the access
    token says so (`email_verified`); a principal of another backend must say so too.

    Raises:
        ProblemError: 403 (`code: email_not_verified`) otherwise.
    """
    if not getattr(scope.get("user"), "email_verified", False):
        raise ProblemError(
            403,
            "Verify your email address first: open the link we sent to it.",
            code=EMAIL_NOT_VERIFIED,
        )


def is_authenticated(scope: Scope) -> bool:
    """Whether the authentication middleware put an authenticated user in the scope
    (Starlette's convention: `scope["user"].is_authenticated`). Without one, every
    route that is not public answers 401: the app fails closed."""
    return bool(getattr(scope.get("user"), "is_authenticated", False))


def admin_role_of(scope: Scope) -> str:
    """The admin role of the app serving `scope` (`app.state.admin_role`, set by
    `create_app`), else `ADMIN_ROLE`."""
    app = scope.get("app")
    state = getattr(app, "state", None)
    return str(getattr(state, "admin_role", ADMIN_ROLE))


def principal(scope: Scope) -> str | None:
    """`user:<identity>` of the authenticated user in the scope, else None. Caches and
    rate limits key on it, so that one user never meets another's entries."""
    user = scope.get("user")
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return f"user:{user.identity}"  # type: ignore[union-attr]
    except (AttributeError, NotImplementedError):
        return f"user:{user.display_name}"  # type: ignore[union-attr]


def _check_path_model(handler: Handler, path: str, model: type[BaseModel] | None) -> None:
    if model is None:
        return
    in_path = set(_PATH_PARAMETER.findall(path))
    names = {field.alias or name for name, field in model.model_fields.items()}
    missing = sorted(names - in_path)
    if missing:
        raise TypeError(
            f"{handler.__qualname__}: path model fields {missing} are not parameters of {path!r}"
        )


def _join(prefix: str, path: str) -> str:
    if path and not path.startswith("/"):
        path = "/" + path
    return prefix + path or "/"


def _is_model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _is_response_class(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, Response)
