"""`TrustedDevices`: browsers where a user chose "trust this device" at the second step.

A trusted browser skips the code at its next sign-ins (the password is still
asked) for `ttl` seconds (30 days). Each is a record in the sessions' store, with
the browser's user agent and address, listed and revoked like sessions; the cookie
holds its id (`<user id>~<192 random bits>`), nothing else. Turning two-factor
sign-in off, changing or resetting the password, or "forget every device" ends
them all.
"""

from __future__ import annotations

from stackkit.auth.sessions import SessionStore

__all__ = ["TrustedDevices"]


class TrustedDevices(SessionStore):
    """A `SessionStore` of its own keys: `trusted-device:{user:<id>}:<random>`, and the
    index `{user:<id>}:trusted-devices`."""

    @staticmethod
    def key(session_id: str) -> str:
        user_id, tagged, rest = session_id.partition("~")
        if tagged:
            return f"trusted-device:{{user:{user_id}}}:{rest}"
        return f"trusted-device:{{{session_id}}}"

    @staticmethod
    def _index(user_id: str) -> str:
        return f"{{user:{user_id}}}:trusted-devices"
