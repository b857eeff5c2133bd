"""Resources: CRUD routes for a model in a few lines, and the meta endpoint that
describes them to the frontend. Built on both the data layer and the HTTP layer."""

from __future__ import annotations

from stackkit.lazy import lazy_attributes
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


__getattr__ = lazy_attributes(__name__)  # a submodule, imported on first use
