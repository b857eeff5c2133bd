"""Passwords: a policy for choosing them, and argon2id hashes for storing them.

The policy follows NIST SP 800-63B (https://pages.nist.gov/800-63-4/sp800-63b.html):
a minimum length, a generous maximum (so that passphrases and password managers
fit), and a list of passwords known to be common instead of composition rules.

`PasswordHasher` hashes with argon2id at OWASP's recommended parameters. A hash
costs tens of milliseconds of CPU, so the async methods run it in a worker
thread. Verifying for an unknown email does the same work against a dummy hash,
so that the login's timing does not tell whether the email has an account.

Passwords are NFKC-normalised before anything else, so that the same password
typed on different keyboards or input methods (a ligature, a full-width letter)
counts, hashes and matches the same.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import secrets
import unicodedata
from dataclasses import dataclass
from importlib import resources

import anyio.to_thread
import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "PasswordCheck",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordPolicyError",
    "is_common_password",
]


class PasswordPolicyError(ValueError):
    """The password is refused; the message is one sentence to show the user."""


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password must satisfy (at sign-up or password change, not at login).

    Raises:
        ValueError: at construction, if `max_length` is under 64 or `min_length` is not
            between 1 and `max_length`.
    """

    min_length: int = 8
    """Fewest characters, counted after NFKC normalisation."""
    max_length: int = 128
    """Most characters: at least 64 for passphrases, bounded to spare the hasher."""
    refuse_common: bool = True
    """Refuse the passwords of the shipped common-password list."""

    def __post_init__(self) -> None:
        if self.max_length < 64:
            raise ValueError(f"max_length must be at least 64, not {self.max_length}")
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError(f"min_length must be between 1 and max_length, not {self.min_length}")

    def check(self, password: str, *, email: str | None = None) -> None:
        """Check a new password.

        Args:
            password: the password as typed.
            email: the account's email; the password may not be it or its local part.

        Raises:
            PasswordPolicyError: if the password is too short, too long, common, or the email.
        """
        password = unicodedata.normalize("NFKC", password)
        if len(password) < self.min_length:
            raise PasswordPolicyError(f"Use at least {self.min_length} characters.")
        if len(password) > self.max_length:
            raise PasswordPolicyError(f"Use at most {self.max_length} characters.")
        if self.refuse_common and is_common_password(password):
            raise PasswordPolicyError("This password is too common; choose another one.")
        if email is not None:
            email = unicodedata.normalize("NFKC", email).casefold()
            if password.casefold() in (email, email.rpartition("@")[0]):
                raise PasswordPolicyError("Do not use your email address as your password.")


def is_common_password(password: str) -> bool:
    """Whether the password, NFKC-normalised and in any case, is on the shipped list of
    the most common leaked passwords of 8 characters or more."""
    return unicodedata.normalize("NFKC", password).lower() in _common_passwords()


@functools.cache
def _common_passwords() -> frozenset[str]:
    data = resources.files("stackkit.auth").joinpath("common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode("utf-8").split("\n")
    # "# " and not "#": the list holds passwords that start with "#".
    return frozenset(line for line in lines if line and not line.startswith("# "))


@dataclass(frozen=True)
class PasswordCheck:
    """The result of `PasswordHasher.verify`."""

    ok: bool
    """Whether the password matches the hash."""
    new_hash: str | None = None
    """Set when `ok` but the stored hash has other parameters: store this one instead."""


class PasswordHasher:
    """Hash and verify passwords with argon2id.

    The defaults are OWASP's recommended parameters: 19 MiB of memory, 2 iterations,
    parallelism 1 (https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html).
    A hash carries its parameters, so changing them later keeps old hashes valid;
    `verify` returns a new hash to store on the user's next login.

    Args:
        time_cost: iterations.
        memory_cost: memory in KiB.
        parallelism: lanes (threads) per hash.
    """

    def __init__(
        self, *, time_cost: int = 2, memory_cost: int = 19_456, parallelism: int = 1
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None

    async def prepare(self) -> None:
        """Make the dummy hash now (apps do at start-up), so that the first login with an
        unknown email does not take longer than the others and tell it apart."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe())

    async def hash(self, password: str) -> str:
        """Hash a password, in a worker thread; see `hash_sync`."""
        return await anyio.to_thread.run_sync(self.hash_sync, password)

    async def verify(self, password_hash: str | None, password: str) -> PasswordCheck:
        """Verify a password, in a worker thread; see `verify_sync`."""
        return await anyio.to_thread.run_sync(self.verify_sync, password_hash, password)

    def hash_sync(self, password: str) -> str:
        """Hash a password (blocking): an encoded argon2id string carrying salt and parameters."""
        return self._hasher.hash(_encode(password))

    def verify_sync(self, password_hash: str | None, password: str) -> PasswordCheck:
        """Verify a password against a stored hash (blocking).

        Args:
            password_hash: the stored hash, or None when no account has the email given.
                Then, or if it is not an argon2 hash, a dummy hash is verified instead, so
                that the time taken does not tell; the result is `ok=False`.
            password: the password as typed.
        """
        secret = _encode(password)
        if password_hash is not None and password_hash.isascii():
            try:
                self._hasher.verify(password_hash, secret)
            except VerifyMismatchError:
                return PasswordCheck(ok=False)
            except (InvalidHashError, VerificationError):
                pass  # not an argon2 hash: verify against the dummy below
            else:
                if self._hasher.check_needs_rehash(password_hash):
                    return PasswordCheck(ok=True, new_hash=self._hasher.hash(secret))
                return PasswordCheck(ok=True)
        if self._dummy_hash is None:  # a race only makes it twice
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe())
        with contextlib.suppress(VerifyMismatchError):
            self._hasher.verify(self._dummy_hash, secret)
        return PasswordCheck(ok=False)


def _encode(password: str) -> bytes:
    # "surrogatepass": a lone surrogate (JSON allows "\ud800") must not turn a login into a 500.
    return unicodedata.normalize("NFKC", password).encode("utf-8", "surrogatepass")
