"""The app: stackkit's building blocks, wired to this project's resources.

`stackkit run` (or `uvicorn tracker.main:app --no-proxy-headers`) serves it:
the client's address then comes from `STACKKIT_TRUSTED_PROXIES` alone. Settings
come from the environment and `.env` (see `.env.example`).
"""

from __future__ import annotations

from pathlib import Path

from stackkit import Settings, create_app
from stackkit.http.spa import frontend_directory
from starlette.applications import Starlette

from tracker.controllers import controllers, resources
from tracker.models import User

# After `npm install && npm run build` in frontend/, the app serves that build;
# until then, the one shipped with stackkit (if any).
FRONTEND_BUILD = Path(__file__).resolve().parents[1] / "frontend" / "dist"


def build_app(settings: Settings | None = None) -> Starlette:
    """The app on `settings` (default: the environment); tests pass their own."""
    return create_app(
        settings,
        controllers=controllers,
        resources=resources,
        user_model=User,
        frontend=frontend_directory(FRONTEND_BUILD),
        title="Tracker",
    )


app = build_app()
