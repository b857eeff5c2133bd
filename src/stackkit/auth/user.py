"""`User`: the ready-made user table (`users`), for apps that need nothing more.

Importing this module adds the table to `Model.metadata`; an app with a user
model of its own (`class User(UserMixin, Model)`) does not import it.
"""

from __future__ import annotations

from stackkit.auth.users import UserMixin
from stackkit.db.model import Model

__all__ = ["User"]


class User(UserMixin, Model):
    """An account: email, password hash, active flag, roles, timestamps."""
