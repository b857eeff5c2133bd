"""Moved to `stackkit.resources`; this name keeps apps written before working."""

from stackkit.resources.meta import ResourceInfo, meta_controller

__all__ = ["ResourceInfo", "meta_controller"]
