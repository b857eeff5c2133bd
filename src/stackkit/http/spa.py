"""Serving a built single-page app (a Vite `dist/` folder) beside the API.

    app = create_app(..., frontend=frontend_directory(project_root / "frontend" / "dist"))

- `/assets/...`: the hashed files of the build, cached for a year (`immutable`):
  their names change whenever their content does.
- Any other file of the build (`favicon.svg`, `robots.txt`): served, revalidated.
- Every other path that is not the API's: `index.html`, never cached, so that a
  deep link (`/notes/3`) opens the app, which routes it in the browser.
- Paths under `/api/`: never the app; a 404 problem as for any unknown route.
- A path no file can have (a NUL, a name too long for the file system): a 404
  problem, never an error from the file system.

The security headers' CSP (`default-src 'self'`) fits a Vite build: scripts and
styles come from the same origin, as files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from stackkit.errors import ProblemError
from stackkit.http.routing import MethodsRoute

__all__ = ["IMMUTABLE", "REVALIDATE", "bundled_frontend", "frontend_directory", "spa_route"]

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def bundled_frontend() -> Path | None:
    """The build shipped in stackkit's wheel (`stackkit/web/`), if there is one."""
    folder = Path(str(files("stackkit") / "web"))
    return folder if (folder / "index.html").is_file() else None


def frontend_directory(own_build: Path | None = None) -> Path | None:
    """The app's own build when it has one (`frontend/dist` after `npm run build`),
    else the bundle shipped with stackkit, else None (no UI)."""
    if own_build is not None and (own_build / "index.html").is_file():
        return own_build
    return bundled_frontend()


def spa_route(directory: Path) -> Route:
    """A catch-all GET/HEAD route serving the build in `directory` (add it last)."""
    root = directory.resolve()
    index = root / "index.html"

    async def serve(request: Request) -> Response:
        path = request.path_params["path"]
        if "\x00" in path:
            # No file has a NUL in its name, and the file system refuses to look.
            raise ProblemError(404, "There is no page at this path.")
        if path:
            candidate = _file_in(root, path)
            if candidate is not None:
                hashed = candidate.is_relative_to(root / "assets")
                return FileResponse(
                    candidate, headers={"Cache-Control": IMMUTABLE if hashed else REVALIDATE}
                )
            if "." in path.rsplit("/", 1)[-1]:
                # A missing file (an old asset after a deployment): not the app's page.
                raise ProblemError(404, "There is no file at this path.")
        if not index.is_file():
            raise ProblemError(404, "The frontend has not been built.")
        return FileResponse(index, headers={"Cache-Control": REVALIDATE})

    return _FrontendRoute("/{path:path}", serve, methods=["GET", "HEAD"], name="frontend")


class _FrontendRoute(MethodsRoute):
    """The catch-all route, which leaves `/api` and what is under it alone: there the
    router answers 404 for an unknown path, and a wrong method on an API path lists
    the API's methods only."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        path = child.get("path_params", {}).get("path", "") if match is not Match.NONE else ""
        if path == "api" or path.startswith("api/"):
            return Match.NONE, {}
        return match, child


def _file_in(root: Path, path: str) -> Path | None:
    """The file at `path` inside `root`, or None: outside it, missing, or a path the file
    system refuses to look up (a name too long, too many links: `OSError`)."""
    try:
        candidate = (root / path).resolve()
        return candidate if candidate.is_relative_to(root) and candidate.is_file() else None
    except (OSError, ValueError):
        return None
