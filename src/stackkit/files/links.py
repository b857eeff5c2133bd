"""Links to files that work without a token for a while: HMAC-signed addresses of the
app's own `/api/files/...` route, for storages that cannot presign downloads."""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["FileLinks"]

_PURPOSE = b"stackkit file links v1"


class FileLinks:
    """Signs and checks `/api/files/<id>/<variant>?expires=...&signature=...`, under a
    key derived from the app's secret (never the secret itself)."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, _PURPOSE, hashlib.sha256).digest()

    def path(self, file_id: str, variant: str, expires_in: int) -> str:
        """The signed path of a file's `file` or `thumbnail`, good for `expires_in` s."""
        expires = int(time.time()) + expires_in
        signature = self.signature(file_id, variant, expires)
        return f"/api/files/{file_id}/{variant}?expires={expires}&signature={signature}"

    def is_valid(self, file_id: str, variant: str, expires: int, signature: str) -> bool:
        """Whether a signed path is genuine and not yet expired."""
        if expires < time.time():
            return False
        return hmac.compare_digest(self.signature(file_id, variant, expires), signature)

    def signature(self, file_id: str, variant: str, expires: int) -> str:
        message = f"{file_id}\n{variant}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
