"""Moved to `stackkit.resources`; this name keeps apps written before working."""

from stackkit.resources.resource import ACTIONS, OWNER_COLUMN, IdPath, Resource, etag_for

__all__ = ["ACTIONS", "OWNER_COLUMN", "IdPath", "Resource", "etag_for"]
