"""An S3-protocol server for tests (moto's standalone server), and buckets of a test's own.

No S3 server ships as a system package, so the tests of `stackkit.files.s3` run
against moto's server mode (`pip install 'moto[server]'`), which speaks the S3
protocol over HTTP on 127.0.0.1. It does not check signatures, presigned
expiries or upload policies: tests of those read what the app signs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import secrets
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackkit.testing.process import ServerProcess
from stackkit.testing.services import ServiceUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["S3Bucket", "S3Process", "temporary_bucket"]

# moto's own `moto_server`, but for one header: moto names itself in a `Server` header
# and werkzeug adds its own, and a strict HTTP client (aiohttp in Python's development
# mode, as the test suite runs) refuses a response with two.
_SERVE = """
import os, sys
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
moto_app = DomainDispatcherApplication(create_backend_app)

def app(environ, start_response):
    def start(status, headers, *rest):
        kept = [(name, value) for name, value in headers if name.lower() != "server"]
        return start_response(status, kept, *rest)
    return moto_app(environ, start)

run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)
"""
_TEST_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}


class S3Process(ServerProcess):
    """A throwaway moto S3 server on 127.0.0.1 (in memory: a restart empties it)."""

    name = "moto-server"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint URL for S3 clients."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def locate(cls) -> None:
        """Check that moto's server is installed.

        Raises:
            ServiceUnavailable: when it is not (``pip install 'moto[server]'``).
        """
        if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
            raise ServiceUnavailable(
                "moto's S3 server is not installed: pip install 'moto[server]'"
            )

    def _prepare(self, directory: Path) -> None:
        pass

    def _command(self, directory: Path, port: int) -> list[str]:
        return [sys.executable, "-c", _SERVE, "127.0.0.1", str(port)]

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):  # noqa: S310
                return True
        except (OSError, urllib.error.URLError):
            return False


@dataclass(frozen=True)
class S3Bucket:
    """A bucket on an S3-protocol server, and how to reach it."""

    endpoint_url: str
    name: str
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def storage_options(self) -> dict[str, Any]:
        """Keyword arguments for `S3Storage` besides the bucket."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": "us-east-1",
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }


@contextlib.contextmanager
def temporary_bucket(endpoint_url: str, *, test_credentials: bool = False) -> Iterator[S3Bucket]:
    """A new, empty `stackkit-test-<hex>` bucket, emptied and deleted afterwards.

    With `test_credentials` (a throwaway moto server), fixed dummy keys; otherwise
    botocore's usual ones (`AWS_ACCESS_KEY_ID`, ...).
    """
    from botocore.config import Config
    from botocore.session import get_session

    credentials = _TEST_CREDENTIALS if test_credentials else {}
    bucket = S3Bucket(endpoint_url, f"stackkit-test-{secrets.token_hex(6)}", **credentials)
    options = bucket.storage_options()
    client = get_session().create_client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=options["region"],
        aws_access_key_id=options["access_key_id"],
        aws_secret_access_key=options["secret_access_key"],
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=bucket.name)
    try:
        yield bucket
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket.name, Key=item["Key"])
        client.delete_bucket(Bucket=bucket.name)
        client.close()
