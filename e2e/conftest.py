"""Fixtures of the end-to-end tests: a generated app, headless Chromium, screenshots.

Run them with `tox -e e2e` (or `pytest e2e`). The main `pytest` run does not
collect them: `testpaths` in pyproject.toml leaves this folder out.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from e2e.flows import ApiClient
from e2e.screenshots import Screenshots, slug
from e2e.server import Account, GeneratedAppServer, served
from stackkit.testing import skip_or_fail

CHROMIUM_ENV = "STACKKIT_E2E_CHROMIUM"
"""Path of the Chromium (or Chrome) to drive; default `chromium` on PATH, or /usr/bin/chromium."""
FRONTEND_ENV = "STACKKIT_E2E_FRONTEND"
"""A frontend build (the `dist/` of `npm run build`) to serve instead of stackkit's bundle."""
ARTIFACTS_ENV = "STACKKIT_E2E_ARTIFACTS"
"""Where the screenshots go; default `artifacts/e2e/` at the repository's root."""

TIMEOUT_MS = 10_000
"""Longest wait of any one step (an action, a navigation, an assertion)."""
LAUNCH_TIMEOUT_MS = 30_000
REPOSITORY = Path(__file__).resolve().parents[1]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

_reports = pytest.StashKey[dict[str, pytest.TestReport]]()
_browser_log = pytest.StashKey[list[str]]()
_server = pytest.StashKey[GeneratedAppServer]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item (fixtures' teardown reads it), and add
    the browser's console and the server's output to the report of a failure."""
    report: pytest.TestReport = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    if report.failed and report.when == "call":
        browser_log = item.stash.get(_browser_log, [])
        if browser_log:
            report.sections.append(("browser console", "\n".join(browser_log)))
        server = item.config.stash.get(_server, None)
        if server is not None:
            report.sections.append(("server output (its end)", server.output()))
    return report


def _failed(item: pytest.Item) -> bool:
    return any(report.failed for report in item.stash.get(_reports, {}).values())


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium to drive; skips the tests when there is none (fails under
    STACKKIT_REQUIRE_SERVICES=1)."""
    configured = os.environ.get(CHROMIUM_ENV, "").strip()
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            skip_or_fail(f"{CHROMIUM_ENV}={configured} is not an executable file")
        return configured
    found = shutil.which("chromium")
    if found is None and os.access("/usr/bin/chromium", os.X_OK):
        found = "/usr/bin/chromium"
    if found is None:
        skip_or_fail(
            "Chromium not found (no `chromium` on PATH nor /usr/bin/chromium): install it "
            f"(Debian: apt-get install chromium) or set {CHROMIUM_ENV}"
        )
    return found


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The screenshots' folder; the previous run's screenshots are removed from it."""
    folder = Path(os.environ.get(ARTIFACTS_ENV, "").strip() or REPOSITORY / "artifacts" / "e2e")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("test_*--*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="session")
def admin() -> Account:
    """The admin `stackkit user create --admin` made."""
    return Account("admin@example.com", f"admin-{secrets.token_urlsafe(12)}")


@pytest.fixture(scope="session")
def app_server(
    request: pytest.FixtureRequest, chromium_path: str, admin: Account
) -> Iterator[GeneratedAppServer]:
    """The generated app, served for the whole session. Asks for Chromium first:
    without a browser there is no point building the app."""
    frontend = os.environ.get(FRONTEND_ENV, "").strip()
    try:
        server = GeneratedAppServer(admin, frontend=Path(frontend) if frontend else None)
    except ValueError as error:
        pytest.fail(f"the generated app did not start: {error}", pytrace=False)
    with served(server, request.config, _server) as started:
        yield started


@pytest.fixture(scope="session")
def base_url(app_server: GeneratedAppServer) -> str:
    return app_server.url


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, timeout=LAUNCH_TIMEOUT_MS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def addresses() -> Iterator[str]:
    """Client addresses, a new one for each visitor (see `GeneratedAppServer`)."""
    return (f"198.18.{n // 256}.{n % 256}" for n in itertools.count(1))


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, artifacts: Path) -> Screenshots:
    """`screenshot(page, "label")`: a full-page screenshot into the artifacts folder."""
    return Screenshots(artifacts, request.node)


_BREAKAGE = re.compile(r"Content.Security.Policy|:pageerror\]")
"""Console lines that mean the page broke: a CSP violation, an uncaught exception."""


@pytest.fixture
def new_context(
    request: pytest.FixtureRequest,
    browser: Browser,
    base_url: str,
    addresses: Iterator[str],
    screenshot: Screenshots,
) -> Iterator[Callable[..., BrowserContext]]:
    """`new_context()`: a fresh browser profile (its own cookies and storage), a visitor
    of its own, in English and the light theme unless told (`locale=`, `color_scheme=`).
    After a failed test, every page still open is screenshotted; all are closed."""
    contexts: list[BrowserContext] = []
    browser_log = request.node.stash.setdefault(_browser_log, [])

    def make(**options: Any) -> BrowserContext:
        number = len(contexts) + 1
        settings = {"locale": "en-US", "color_scheme": "light", **options}
        context = browser.new_context(
            base_url=base_url,
            viewport=VIEWPORT,
            extra_http_headers={"X-Forwarded-For": next(addresses)},
            **settings,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on(
            "console",
            lambda message: browser_log.append(f"[{number}:{message.type}] {message.text}"),
        )
        context.on(
            "weberror", lambda error: browser_log.append(f"[{number}:pageerror] {error.error}")
        )
        contexts.append(context)
        return context

    yield make
    if _failed(request.node):
        for page in (page for context in contexts for page in context.pages):
            screenshot(page, "failed")
    for context in contexts:
        context.close()
    # The bundle must run under the app's Content-Security-Policy, without errors.
    broken = [line for line in browser_log if _BREAKAGE.search(line)]
    if broken and not _failed(request.node):
        pytest.fail("the browser reported:\n" + "\n".join(broken), pytrace=False)


@pytest.fixture
def page(new_context: Callable[[], BrowserContext]) -> Page:
    """A page in a fresh browser context, at no address yet."""
    return new_context().new_page()


@pytest.fixture
def account(request: pytest.FixtureRequest) -> Account:
    """Credentials of a user nobody has registered yet, unique to the test."""
    name = slug(request.node.name.removeprefix("test_"))[:32].strip("-.")
    return Account(f"{name}-{secrets.token_hex(4)}@example.com", f"e2e-{secrets.token_urlsafe(12)}")


@pytest.fixture
def api(base_url: str, addresses: Iterator[str]) -> ApiClient:
    """A client of the app's JSON API, as a visitor of its own."""
    return ApiClient(base_url, next(addresses))
