"""Resources: CRUD routes for a model in a few lines, and the meta endpoint that
describes them to the frontend. Built on both the data layer and the HTTP layer."""

from __future__ import annotations

from typing import Any

from stackkit.lazy import submodule
from stackkit.resources.meta import ResourceInfo, meta_controller
from stackkit.resources.resource import ACTIONS, OWNER_COLUMN, IdPath, Resource, etag_for

__all__ = [
    "ACTIONS",
    "OWNER_COLUMN",
    "IdPath",
    "Resource",
    "ResourceInfo",
    "etag_for",
    "meta_controller",
]


def __getattr__(name: str) -> Any:
    """A submodule not imported yet (`stackkit.resources.<module>`), on first use."""
    return submodule(__name__, name)
