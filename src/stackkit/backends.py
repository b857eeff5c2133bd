"""The external resources an app uses (database, Redis), opened and closed by its lifespan.

`create_app` opens each backend at start-up, closes them in reverse order at
shutdown, and reports each one's `check()` at `/readyz`.
"""

from __future__ import annotations

import abc

__all__ = ["Backend"]


class Backend(abc.ABC):
    """A resource with a lifecycle and a readiness check.

    `open()` should not wait for the resource to answer: an app starts while
    its database is still coming up, and `/readyz` says when it is ready.
    """

    name: str
    """Key of this backend in `/readyz` and in `app.state.backends`."""

    async def open(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Create clients and pools."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release clients and pools."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Return if the resource answers; raise any exception if it does not."""
