"""Mail backends; SMTP against a real local aiosmtpd server, TLS with a throwaway certificate."""

from __future__ import annotations

import datetime
import email
import email.policy
import inspect
import ipaddress
import logging
import re
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stackkit.auth.mail import (
    ConsoleMailBackend,
    MailBackend,
    MailError,
    MailMessage,
    MemoryMailBackend,
    SMTPMailBackend,
    UnconfiguredMailBackend,
    mail_backend_for,
)
from stackkit.testing import find_free_port
from tests.helpers import Inbox, SMTPServer, StartServer

SENDER = "Stackkit <noreply@example.com>"
MESSAGE = MailMessage(
    to="ada@example.com",
    subject="Reset your password",
    text="Grüße, Ada.\n\nhttps://app.example.com/reset?token=s3cret-token\n",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stackkit test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def trust_certificate(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the test certificate the one CA that clients built from now on trust."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def delivered(server: SMTPServer) -> email.message.EmailMessage:
    [envelope] = server.inbox.envelopes
    assert isinstance(envelope.content, bytes)
    # SMTP ends lines with CRLF; a message as stored by a mail client ends them with LF.
    content = envelope.content.replace(b"\r\n", b"\n")
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


async def test_smtp_delivers_message_with_headers(start_server: StartServer) -> None:
    server = start_server()
    await SMTPMailBackend(f"smtp://127.0.0.1:{server.port}", sender=SENDER).send(MESSAGE)

    [envelope] = server.inbox.envelopes
    assert envelope.mail_from == "noreply@example.com"
    assert envelope.rcpt_tos == ["ada@example.com"]
    received = delivered(server)
    assert received["From"] == SENDER
    assert received["To"] == "ada@example.com"
    assert received["Subject"] == "Reset your password"
    sent_at = received["Date"].datetime.replace(tzinfo=datetime.UTC)  # "-0000": UTC
    assert abs(datetime.datetime.now(datetime.UTC) - sent_at) < datetime.timedelta(minutes=1)
    assert received["Date"].endswith(" -0000")  # UTC, whatever the server's time zone
    assert received["Message-ID"].endswith("@example.com>")
    assert received.get_content_type() == "text/plain"
    assert received.get_content() == MESSAGE.text
    assert server.inbox.logins == []


async def test_smtp_logs_in_with_percent_decoded_credentials(start_server: StartServer) -> None:
    server = start_server()
    url = f"smtp://ada%40example.com:p%40ss%3Aword@127.0.0.1:{server.port}"
    await SMTPMailBackend(url, sender=SENDER).send(MESSAGE)

    assert [(login.login, login.password) for login in server.inbox.logins] == [
        (b"ada@example.com", b"p@ss:word")
    ]
    assert delivered(server)["To"] == "ada@example.com"


async def test_smtp_logs_in_with_an_empty_password_when_the_url_has_none(
    start_server: StartServer,
) -> None:
    server = start_server()
    await SMTPMailBackend(f"smtp://ada@127.0.0.1:{server.port}", sender=SENDER).send(MESSAGE)
    assert [(login.login, login.password) for login in server.inbox.logins] == [(b"ada", b"")]


async def test_smtp_refused_login_raises_mail_error_without_password(
    start_server: StartServer,
) -> None:
    server = start_server()
    server.inbox.accept_login = False
    backend = SMTPMailBackend(f"smtp://ada:hunter2@127.0.0.1:{server.port}", sender=SENDER)

    with pytest.raises(MailError, match=rf"smtp://127\.0\.0\.1:{server.port}") as caught:
        await backend.send(MESSAGE)
    assert "hunter2" not in str(caught.value)
    assert server.inbox.logins  # the server was asked, and said no
    assert server.inbox.envelopes == []


async def test_a_password_the_server_echoes_is_masked_in_the_error(
    start_server: StartServer,
) -> None:
    class EchoPassword(Inbox):
        def authenticate(
            self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            password = data.password.decode()
            return AuthResult(success=False, handled=False, message=f"535 wrong: {password}")

    server = start_server(EchoPassword())
    backend = SMTPMailBackend(f"smtp://ada:hunter2@127.0.0.1:{server.port}", sender=SENDER)
    with pytest.raises(MailError, match=r"wrong: \*\*\*") as caught:
        await backend.send(MESSAGE)
    assert "hunter2" not in str(caught.value)


async def test_smtp_refused_recipient_raises_mail_error(start_server: StartServer) -> None:
    class RefuseRecipients(Inbox):
        async def handle_RCPT(
            self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
        ) -> str:
            return "550 No such user here"

    server = start_server(RefuseRecipients())
    backend = SMTPMailBackend(f"smtp://127.0.0.1:{server.port}", sender=SENDER)
    with pytest.raises(MailError, match="No such user here"):
        await backend.send(MESSAGE)
    assert server.inbox.envelopes == []


async def test_smtp_closed_port_raises_mail_error_at_once() -> None:
    backend = SMTPMailBackend(f"smtp://127.0.0.1:{find_free_port()}", sender=SENDER, timeout=1)
    started = time.monotonic()
    with pytest.raises(
        MailError, match=r"could not send mail through smtp://127\.0\.0\.1:\d+: .*refused"
    ):
        await backend.send(MESSAGE)
    assert time.monotonic() - started < 1


async def test_an_error_without_text_is_named_by_its_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reason is never empty. No server makes smtplib raise an error without text, so
    the connection fails here in place of one."""

    def reset(email: object) -> None:
        raise ConnectionResetError()

    backend = SMTPMailBackend("smtp://127.0.0.1:2525", sender=SENDER)
    monkeypatch.setattr(backend, "_send_now", reset)
    error = "could not send mail through smtp://127.0.0.1:2525: ConnectionResetError"
    with pytest.raises(MailError, match=f"^{re.escape(error)}$"):
        await backend.send(MESSAGE)


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
async def test_a_silent_server_times_out(scheme: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        # Connections complete in the backlog, but no greeting (or TLS handshake) comes.
        listener.listen()
        port = listener.getsockname()[1]
        backend = SMTPMailBackend(f"{scheme}://127.0.0.1:{port}", sender=SENDER, timeout=0.2)
        started = time.monotonic()
        with pytest.raises(MailError, match="timed out"):
            await backend.send(MESSAGE)
        assert time.monotonic() - started < 2


async def test_smtp_starttls_upgrades_the_connection(
    start_server: StartServer, server_tls: ssl.SSLContext, trust_certificate: None
) -> None:
    server = start_server(tls_context=server_tls, require_starttls=True)
    url = f"smtp://ada:hunter2@127.0.0.1:{server.port}?starttls=true"
    await SMTPMailBackend(url, sender=SENDER).send(MESSAGE)

    assert delivered(server).get_content() == MESSAGE.text
    assert [login.login for login in server.inbox.logins] == [b"ada"]


async def test_smtp_starttls_is_required_when_asked(start_server: StartServer) -> None:
    server = start_server()  # offers no STARTTLS
    url = f"smtp://ada:hunter2@127.0.0.1:{server.port}?starttls=true"
    with pytest.raises(MailError, match="STARTTLS"):
        await SMTPMailBackend(url, sender=SENDER).send(MESSAGE)
    assert server.inbox.logins == []  # the password never went out in clear
    assert server.inbox.envelopes == []


async def test_smtps_uses_tls_from_the_start(
    start_server: StartServer, server_tls: ssl.SSLContext, trust_certificate: None
) -> None:
    server = start_server(ssl_context=server_tls)
    await SMTPMailBackend(f"smtps://127.0.0.1:{server.port}", sender=SENDER).send(MESSAGE)
    assert delivered(server).get_content() == MESSAGE.text


async def test_smtps_refuses_an_untrusted_certificate(
    start_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    server = start_server(ssl_context=server_tls)
    backend = SMTPMailBackend(f"smtps://127.0.0.1:{server.port}", sender=SENDER)
    with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
        await backend.send(MESSAGE)
    assert server.inbox.envelopes == []


async def test_smtp_starttls_refuses_an_untrusted_certificate(
    start_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    server = start_server(tls_context=server_tls, require_starttls=True)
    url = f"smtp://ada:hunter2@127.0.0.1:{server.port}?starttls=true"
    with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
        await SMTPMailBackend(url, sender=SENDER).send(MESSAGE)
    assert server.inbox.logins == []  # the password never went to an unverified server
    assert server.inbox.envelopes == []


async def test_the_message_id_ends_with_the_domain_after_the_senders_last_at(
    start_server: StartServer,
) -> None:
    server = start_server()
    sender = '"ops@team" <"ops@team"@example.org>'
    await SMTPMailBackend(f"smtp://127.0.0.1:{server.port}", sender=sender).send(MESSAGE)
    assert delivered(server)["Message-ID"].endswith("@example.org>")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://ada:hunter2@mail.example.com",
         "mail URL must start with smtp:// or smtps://, not 'http'"),
        ("mail.example.com:25",
         "mail URL must start with smtp:// or smtps://, not 'mail.example.com'"),
        ("smtp://ada:hunter2@", "mail URL has no host"),
        ("smtp://mail.example.com:port",
         "mail URL has an invalid port: Port could not be cast to integer value as 'port'"),
        ("smtps://mail.example.com?starttls=true",
         "starttls applies to smtp:// only; smtps:// is TLS from the start"),
        ("smtp://mail.example.com?starttls=maybe",
         "mail URL option starttls must be true or false, not 'maybe'"),
        ("smtp://mail.example.com?starttls",
         "mail URL option starttls must be true or false, not ''"),
        ("smtp://mail.example.com?tls=true", "mail URL has unknown options: tls"),
        ("smtp://mail.example.com?tls=1&auth=x", "mail URL has unknown options: auth, tls"),
        ("smtp://ada:hunter2%C3%A4@mail.example.com",
         "mail URL user and password must be ASCII (smtplib sends no other)"),
    ],
    ids=[
        "scheme",
        "no-scheme",
        "no-host",
        "port",
        "starttls-on-smtps",
        "starttls-value",
        "starttls-blank",
        "option",
        "options",
        "non-ascii-password",
    ],
)  # fmt: skip
def test_bad_url_raises_value_error(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$") as caught:
        SMTPMailBackend(url, sender=SENDER)
    assert "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("sender", ["noreply", "Stackkit <noreply@example.com>\nBcc: x@y.z"])
def test_bad_sender_raises_value_error(sender: str) -> None:
    with pytest.raises(ValueError, match="sender"):
        SMTPMailBackend("smtp://mail.example.com", sender=sender)


@pytest.mark.parametrize(
    "fields",
    [
        {"to": "ada@example.com\r\nBcc: eve@example.com"},
        {"to": "ada@example.com\nBcc: eve@example.com"},
        {"subject": "Reset\rBcc: eve@example.com"},
        {"subject": "Reset\nBcc: eve@example.com"},
    ],
    ids=["to-crlf", "to-lf", "subject-cr", "subject-lf"],
)
def test_line_breaks_in_headers_are_refused(fields: dict[str, str]) -> None:
    values = {"to": "ada@example.com", "subject": "Reset", "text": "line one\nline two"} | fields
    [field] = fields
    error = f"{field} must not contain a line break (header injection)"
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        MailMessage(**values)


def test_a_line_break_in_the_sender_is_refused_by_name() -> None:
    error = "sender must not contain a line break (header injection)"
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        SMTPMailBackend("smtp://127.0.0.1", sender="Stackkit <noreply@example.com>\nBcc: x@y.z")


def test_the_smtp_timeout_is_ten_seconds_unless_said() -> None:
    assert inspect.signature(SMTPMailBackend).parameters["timeout"].default == 10.0


async def test_console_backend_logs_the_whole_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="stackkit.mail"):
        await ConsoleMailBackend().send(MESSAGE)

    messages = [record.getMessage() for record in caplog.records if record.name == "stackkit.mail"]
    assert "ada@example.com" in messages[0]
    assert "Reset your password" in messages[0]
    # The link is alone on its record, so that escaping line breaks cannot glue text to it.
    assert "| https://app.example.com/reset?token=s3cret-token" in messages
    assert "| Grüße, Ada." in messages


async def test_memory_backend_collects_messages_in_order() -> None:
    backend = MemoryMailBackend()
    second = MailMessage(to="bob@example.com", subject="Welcome", text="Hello")
    await backend.send(MESSAGE)
    await backend.send(second)
    assert backend.outbox == [MESSAGE, second]


async def test_unconfigured_backend_fails_and_keeps_the_body_out_of_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = "mail is not configured (set STACKKIT_SMTP_URL)"
    with pytest.raises(MailError, match=f"^{re.escape(error)}$"):
        await UnconfiguredMailBackend().send(MESSAGE)

    [record] = [record for record in caplog.records if record.name == "stackkit.mail"]
    assert record.levelno == logging.ERROR
    assert "STACKKIT_SMTP_URL" in record.getMessage()
    assert record.args == ("ada@example.com", "Reset your password")
    assert "s3cret-token" not in caplog.text


@pytest.mark.parametrize(
    ("smtp_url", "production", "kind"),
    [
        ("smtp://mail.example.com", False, SMTPMailBackend),
        ("smtps://mail.example.com", True, SMTPMailBackend),
        ("", False, ConsoleMailBackend),
        ("", True, UnconfiguredMailBackend),
    ],
    ids=["smtp-development", "smtp-production", "none-development", "none-production"],
)
def test_mail_backend_for_picks_the_backend(
    smtp_url: str, production: bool, kind: type[MailBackend]
) -> None:
    backend = mail_backend_for(smtp_url, sender=SENDER, production=production)
    assert type(backend) is kind


def test_mail_backend_for_checks_the_url() -> None:
    with pytest.raises(ValueError, match="smtp:// or smtps://"):
        mail_backend_for("smtpx://mail.example.com", sender=SENDER, production=True)
