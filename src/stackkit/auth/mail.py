"""Sending mail, so that a user who forgot a password can be sent a reset link.

Every backend implements one async method, `send`. `SMTPMailBackend` talks to a real
server with the standard library's `smtplib` in a worker thread (no extra dependency),
`ConsoleMailBackend` logs messages for a developer to click the link in the terminal,
and `MemoryMailBackend` keeps them for tests. `mail_backend_for` picks one from the
settings; in production without a server it picks `UnconfiguredMailBackend`, which
fails loudly rather than dropping reset links.
"""

from __future__ import annotations

import abc
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from anyio import to_thread

__all__ = [
    "ConsoleMailBackend",
    "MailBackend",
    "MailError",
    "MailMessage",
    "MemoryMailBackend",
    "SMTPMailBackend",
    "UnconfiguredMailBackend",
    "mail_backend_for",
]

logger = logging.getLogger("stackkit.mail")

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


def _refuse_line_breaks(field: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{field} must not contain a line break (header injection)")


@dataclass(frozen=True)
class MailMessage:
    """A plain-text message to one recipient.

    Raises:
        ValueError: `to` or `subject` contains CR or LF, which could add headers.
    """

    to: str
    """Address of the recipient."""
    subject: str
    text: str
    """Plain-text body."""

    def __post_init__(self) -> None:
        _refuse_line_breaks("to", self.to)
        _refuse_line_breaks("subject", self.subject)


class MailError(Exception):
    """The message could not be sent (server away, refused, timed out)."""


class MailBackend(abc.ABC):
    """Sends mail. Subclasses implement `send`."""

    @abc.abstractmethod
    async def send(self, message: MailMessage) -> None:
        """Send `message`, returning once the server has accepted it.

        Raises:
            MailError: the message could not be sent.
        """


class ConsoleMailBackend(MailBackend):
    """For development: logs each whole message (logger `stackkit.mail`, INFO)."""

    async def send(self, message: MailMessage) -> None:
        logger.info("Mail to %s: %s", message.to, message.subject)
        # One record per line: the text log format escapes line breaks, which would
        # glue the next line onto a reset link and break it for the terminal.
        for line in message.text.splitlines():
            logger.info("| %s", line)


class MemoryMailBackend(MailBackend):
    """The test double: keeps every message sent in `outbox`, oldest first."""

    def __init__(self) -> None:
        self.outbox: list[MailMessage] = []

    async def send(self, message: MailMessage) -> None:
        self.outbox.append(message)


class UnconfiguredMailBackend(MailBackend):
    """For production without a mail server: every send logs an ERROR and fails.

    The body is not logged: it holds a reset link, a secret that must stay out of logs.
    """

    async def send(self, message: MailMessage) -> None:
        logger.error(
            "Mail is not configured (set STACKKIT_SMTP_URL); not sent to %s: %s",
            message.to,
            message.subject,
        )
        raise MailError("mail is not configured (set STACKKIT_SMTP_URL)")


class SMTPMailBackend(MailBackend):
    """Sends each message over a new connection to an SMTP server.

    Args:
        url: `smtp://[user:password@]host[:port]` (plain, port 25; add `?starttls=true`
            to require an upgrade with STARTTLS) or `smtps://...` (TLS from the start,
            port 465). User and password are percent-decoded and, when present, sent
            with AUTH. TLS certificates are verified against the system's CAs.
        sender: the From address, such as `Example <noreply@example.com>`; its domain
            ends every Message-ID.
        timeout: seconds allowed for connecting and for each reply of the server.

    Raises:
        ValueError: the URL or the sender is malformed. The message never holds the
            password.
    """

    def __init__(self, url: str, *, sender: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS:
            raise ValueError(f"mail URL must start with smtp:// or smtps://, not {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("mail URL has no host")
        try:
            port = parts.port or _DEFAULT_PORTS[parts.scheme]
        except ValueError as error:
            raise ValueError(f"mail URL has an invalid port: {error}") from None
        self._starttls = _parse_starttls(parts.query)
        if self._starttls and parts.scheme == "smtps":
            raise ValueError("starttls applies to smtp:// only; smtps:// is TLS from the start")
        _refuse_line_breaks("sender", sender)
        _, at, domain = parseaddr(sender)[1].rpartition("@")
        if not at or not domain:
            raise ValueError(f"sender must be an email address, not {sender!r}")
        self._host, self._port, self._timeout = parts.hostname, port, timeout
        self._implicit_tls = parts.scheme == "smtps"
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password or "")
        if not (self._username or "").isascii() or not self._password.isascii():
            raise ValueError("mail URL user and password must be ASCII (smtplib sends no other)")
        self._sender, self._domain = sender, domain
        self._where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        needs_tls = self._implicit_tls or self._starttls
        self._tls_context = ssl.create_default_context() if needs_tls else None

    async def send(self, message: MailMessage) -> None:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(domain=self._domain)
        email.set_content(message.text, charset="utf-8")
        try:
            await to_thread.run_sync(self._send_now, email)
        except OSError as error:  # smtplib's errors, socket errors, timeouts and TLS errors
            reason = str(error) or type(error).__name__
            if self._password:
                reason = reason.replace(self._password, "***")
            raise MailError(f"could not send mail through {self._where}: {reason}") from error

    def _send_now(self, email: EmailMessage) -> None:
        client: smtplib.SMTP
        if self._implicit_tls:
            client = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._tls_context
            )
        else:
            client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with client:
            if self._starttls:
                client.starttls(context=self._tls_context)
            if self._username is not None:
                client.login(self._username, self._password)
            client.send_message(email)


def _parse_starttls(query: str) -> bool:
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"starttls"})
    if unknown:
        raise ValueError(f"mail URL has unknown options: {', '.join(unknown)}")
    value = options.get("starttls", ["false"])[-1].lower()
    if value not in ("true", "false"):
        raise ValueError(f"mail URL option starttls must be true or false, not {value!r}")
    return value == "true"


def mail_backend_for(smtp_url: str, *, sender: str, production: bool) -> MailBackend:
    """The backend the settings ask for.

    Args:
        smtp_url: URL of the SMTP server (see `SMTPMailBackend`), or "" for none.
        sender: the From address of every message.
        production: whether the app runs in production, where mail must not be lost.

    Returns:
        An `SMTPMailBackend` when `smtp_url` is set; otherwise a `ConsoleMailBackend`
        in development and tests, an `UnconfiguredMailBackend` in production.

    Raises:
        ValueError: `smtp_url` or `sender` is malformed.
    """
    if smtp_url:
        return SMTPMailBackend(smtp_url, sender=sender)
    if production:
        return UnconfiguredMailBackend()
    return ConsoleMailBackend()
