"""`Client`: HTTP/1.1 to the app over a plain socket, so that a drill can send what
well-behaved clients refuse to: raw bytes in the target, a lying `Content-Length`,
a chunked body of any size."""

from __future__ import annotations

import contextlib
import http.client
import io
import json as jsonlib
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Answer", "Client"]

TIMEOUT = 10.0
"""Longest wait for the app, in seconds, on any one socket operation."""


@dataclass(frozen=True)
class Answer:
    """A response: its status, its headers in order (names lower-cased), its body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name.lower()), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip()

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class Client:
    """One visitor of the app: each request carries its `X-Forwarded-For` address (the
    app believes it from 127.0.0.1, so each visitor has rate limits of its own) and,
    when `token` is set, the access token. It connects from `source` when given (another
    loopback address, such as 127.0.0.2: a visitor a proxy in front tells apart)."""

    def __init__(
        self, base_url: str, address: str, token: str | None = None, *, source: str | None = None
    ) -> None:
        parts = urlsplit(base_url)
        if parts.hostname != "127.0.0.1" or parts.port is None:
            raise ValueError(f"the drills talk to 127.0.0.1 only, not {base_url}")
        self.port = parts.port
        self.address = address
        self.token = token
        self.source = source

    def send(
        self,
        method: str,
        target: str | bytes,
        *,
        body: bytes | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """A request with a `Content-Length` (the body's, unless `headers` give one)."""
        fields = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json).encode()
            fields.setdefault("Content-Type", "application/json")
        if body is not None and not any(k.lower() == "content-length" for k in fields):
            fields["Content-Length"] = str(len(body))
        return self.exchange(self.head(method, target, fields) + (body or b""), method)

    def send_chunked(
        self,
        method: str,
        target: str,
        chunks: Iterable[bytes],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """A request whose body is sent chunked, without a `Content-Length`."""
        fields = {**(headers or {}), "Transfer-Encoding": "chunked"}
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks if chunk)
        return self.exchange(self.head(method, target, fields) + body + b"0\r\n\r\n", method)

    def head(self, method: str, target: str | bytes, headers: Mapping[str, str]) -> bytes:
        """The request line and headers, with Host, Connection, the address and token."""
        fields = {
            "Host": f"127.0.0.1:{self.port}",
            "Connection": "close",
            "X-Forwarded-For": self.address,
        }
        if self.token is not None:
            fields["Authorization"] = f"Bearer {self.token}"
        fields.update(headers)
        raw_target = target if isinstance(target, bytes) else target.encode("ascii")
        lines = [b"%s %s HTTP/1.1" % (method.encode("ascii"), raw_target)]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in fields.items()]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def exchange(self, request: bytes, method: str = "GET") -> Answer:
        """Send `request` as it is and read the response (the connection then closes)."""
        source = None if self.source is None else (self.source, 0)
        with socket.create_connection(
            ("127.0.0.1", self.port), timeout=TIMEOUT, source_address=source
        ) as sock:
            # The app may answer (413) and stop reading before the whole body is sent.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(request)
            response = http.client.HTTPResponse(sock, method=method)
            try:
                response.begin()
                body = response.read()
            finally:
                response.close()
        headers = [(name.lower(), value) for name, value in response.getheaders()]
        return Answer(response.status, headers, body)

    def exchange_all(self, request: bytes, method: str = "GET") -> list[Answer]:
        """Send `request` as it is and read every response until the app closes the
        connection: for a request that a server may read as several."""
        source = None if self.source is None else (self.source, 0)
        received = bytearray()
        with socket.create_connection(
            ("127.0.0.1", self.port), timeout=TIMEOUT, source_address=source
        ) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(request)
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65_536):
                    received += chunk
        stream = _Kept(bytes(received))
        answers: list[Answer] = []
        while stream.tell() < len(received):
            response = http.client.HTTPResponse(_Received(stream), method=method)
            response.begin()
            body = response.read()
            headers = [(name.lower(), value) for name, value in response.getheaders()]
            answers.append(Answer(response.status, headers, body))
        return answers


class _Kept(io.BytesIO):
    """Bytes already received, which a response read from them leaves open for the next."""

    def close(self) -> None:
        pass


class _Received:
    """The socket `http.client.HTTPResponse` reads from: bytes already received."""

    def __init__(self, stream: _Kept) -> None:
        self.stream = stream

    def makefile(self, mode: str) -> _Kept:
        return self.stream
