"""Email verification and change in Chromium, on a copy of the generated app with
`STACKKIT_EMAIL_VERIFICATION=true` and a real SMTP server: register, see the banner,
open the link from the email (sent by the app's job worker), and the banner goes;
change the address from the profile, and confirm it with the link to the new one."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from tests.helpers import SMTPServer, smtp_servers

from e2e.flows import register
from e2e.screenshots import Screenshots
from e2e.server import Account, GeneratedAppServer, served
from e2e.test_accessibility import check
from stackkit.testing import wait_until

LINK = re.compile(r"http://127\.0\.0\.1:\d+/(verify|confirm)-email#token=[\w-]+")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SMTPServer]:
    with smtp_servers() as start:
        yield start()


@pytest.fixture(scope="module")
def verifying_app(
    request: pytest.FixtureRequest, app_server: GeneratedAppServer, smtp: SMTPServer
) -> Iterator[GeneratedAppServer]:
    settings = {
        "STACKKIT_EMAIL_VERIFICATION": "true",
        "STACKKIT_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
    }
    server = GeneratedAppServer(app_server.admin, settings=settings, copy_of=app_server.project)
    with served(server, request.config) as started:
        yield started


def _link_to(smtp: SMTPServer, address: str) -> str:
    def mailed() -> bool:
        return any(address in envelope.rcpt_tos for envelope in smtp.inbox.envelopes)

    wait_until(mailed, timeout=20, description=f"the email with a link to {address}")
    envelope = next(e for e in smtp.inbox.envelopes if address in e.rcpt_tos)
    body = email.message_from_bytes(envelope.original_content or b"").get_payload(decode=True)
    assert isinstance(body, bytes)
    match = LINK.search(body.decode())
    assert match is not None, body
    return match.group(0)


def test_a_new_user_verifies_their_address_with_the_emailed_link(
    page: Page,
    account: Account,
    verifying_app: GeneratedAppServer,
    smtp: SMTPServer,
    screenshot: Screenshots,
) -> None:
    register(page, account, verifying_app.url)
    banner = page.get_by_role("region", name="Email verification")
    expect(banner).to_contain_text(f"open the link we sent to {account.email}")
    check(page, banner)

    link = _link_to(smtp, account.email)
    assert link.startswith(verifying_app.url)
    page.goto(link)
    verified = page.get_by_text("Your email address is verified.")
    expect(page).to_have_url(f"{verifying_app.url}/verify-email")  # the token left the bar
    expect(page.get_by_role("region", name="Email verification")).to_have_count(0)
    check(page, verified)
    screenshot(page, "email-verified")


def test_a_user_changes_their_address_with_the_link_to_the_new_one(
    page: Page,
    account: Account,
    verifying_app: GeneratedAppServer,
    smtp: SMTPServer,
    screenshot: Screenshots,
) -> None:
    register(page, account, verifying_app.url)
    page.get_by_role("link", name="Profile").click()
    new = "new-" + account.email
    page.get_by_label("New email").fill(new)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Change email").click()
    notice = page.get_by_text(f"We sent a link to {new}. Open it to confirm the change.")
    check(page, notice)

    page.goto(_link_to(smtp, new))
    expect(page.get_by_text(re.compile("Your email address is changed"))).to_be_visible()
    expect(page).to_have_url(f"{verifying_app.url}/confirm-email")
    # The address was proved by the link: no banner; and the account goes by it now.
    expect(page.get_by_role("region", name="Email verification")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(new)
    screenshot(page, "email-changed")
