"""Serving a built single-page app (a Vite `dist/` folder) beside the API.

    app = create_app(..., frontend=frontend_directory(project_root / "frontend" / "dist"))

- `/assets/...`: the hashed files of the build, cached for a year (`immutable`):
  their names change whenever their content does.
- Any other file of the build (`favicon.svg`, `robots.txt`): served, revalidated.
- Every other path that is not the API's: `index.html`, never cached, so that a
  deep link (`/notes/3`) opens the app, which routes it in the browser.
- Paths under `/api/`: never the app; a 404 problem as for any unknown route.

The security headers' CSP (`default-src 'self'`) fits a Vite build: scripts and
styles come from the same origin, as files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from stackkit.http.problems import ProblemError

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
        if path == "api" or path.startswith("api/"):
            raise ProblemError(404, "There is no API route at this path.")
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
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

    return Route("/{path:path}", serve, methods=["GET", "HEAD"], name="frontend")
