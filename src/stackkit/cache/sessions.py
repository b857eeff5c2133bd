"""Moved to `stackkit.auth.sessions`; this name keeps working."""

from stackkit.auth.sessions import Session, SessionStore

__all__ = ["Session", "SessionStore"]
