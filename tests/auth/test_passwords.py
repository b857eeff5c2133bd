from __future__ import annotations

import gzip
import re
import threading
from importlib import resources

import argon2
import pytest

from stackkit.auth.passwords import (
    PasswordCheck,
    PasswordHasher,
    PasswordPolicy,
    PasswordPolicyError,
    is_common_password,
)

FAST = {"time_cost": 1, "memory_cost": 64}


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(**FAST)


@pytest.fixture
def argon2_verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2's `verify` is called with, in order."""
    calls: list[str] = []
    real_verify = argon2.PasswordHasher.verify

    def verify(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        calls.append(hash if isinstance(hash, str) else hash.decode())
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    return calls


async def test_hash_then_verify_accepts_the_password(hasher: PasswordHasher) -> None:
    password_hash = await hasher.hash("correct horse battery staple")

    assert await hasher.verify(password_hash, "correct horse battery staple") == PasswordCheck(
        ok=True
    )


async def test_wrong_password_is_refused(hasher: PasswordHasher) -> None:
    password_hash = await hasher.hash("correct horse battery staple")

    assert await hasher.verify(password_hash, "correct horse battery stapler") == PasswordCheck(
        ok=False
    )


async def test_hash_runs_outside_the_event_loop_thread(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real_hash = argon2.PasswordHasher.hash

    def hash(self: argon2.PasswordHasher, password: str | bytes, **kwargs: bytes | None) -> str:
        threads.append(threading.get_ident())
        return real_hash(self, password, **kwargs)

    monkeypatch.setattr(argon2.PasswordHasher, "hash", hash)

    await hasher.hash("correct horse battery staple")

    assert threads
    assert threading.get_ident() not in threads


def test_default_parameters_are_owasp_argon2id() -> None:
    password_hash = PasswordHasher().hash_sync("correct horse battery staple")

    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    "password_hash",
    [
        None,
        "",
        "not a hash",
        "$2b$12$abcdefghijklmnopqrstuv",
        "$argon2id$v=19$m=64,t=1,p=1$x$y",
        "é",
    ],
    ids=["unknown-email", "empty", "garbage", "bcrypt", "malformed-argon2", "non-ascii"],
)
async def test_missing_or_invalid_hash_is_refused_after_a_real_verification(
    hasher: PasswordHasher, argon2_verify_calls: list[str], password_hash: str | None
) -> None:
    check = await hasher.verify(password_hash, "correct horse battery staple")

    assert check == PasswordCheck(ok=False)
    dummy_hash = argon2_verify_calls[-1]
    assert dummy_hash != password_hash
    assert argon2.extract_parameters(dummy_hash) == argon2.extract_parameters(hasher.hash_sync("x"))


def test_dummy_hash_is_made_once_per_hasher(
    hasher: PasswordHasher, argon2_verify_calls: list[str]
) -> None:
    hasher.verify_sync(None, "first guess")
    hasher.verify_sync(None, "second guess")

    assert len(argon2_verify_calls) == 2
    assert argon2_verify_calls[0] == argon2_verify_calls[1]


def test_verify_suggests_a_new_hash_when_parameters_changed() -> None:
    old_hash = PasswordHasher(time_cost=1).hash_sync("correct horse battery staple")
    hasher = PasswordHasher()

    check = hasher.verify_sync(old_hash, "correct horse battery staple")

    assert check.ok
    assert check.new_hash is not None
    assert "m=19456,t=2,p=1" in check.new_hash
    assert hasher.verify_sync(check.new_hash, "correct horse battery staple") == PasswordCheck(
        ok=True
    )


def test_password_is_nfkc_normalised(hasher: PasswordHasher) -> None:
    password_hash = hasher.hash_sync("\ufb01ne and dandy")  # "fi" ligature

    assert hasher.verify_sync(password_hash, "fine and dandy").ok


def test_lone_surrogate_password_is_refused_without_error(hasher: PasswordHasher) -> None:
    password_hash = hasher.hash_sync("correct horse battery staple")

    assert hasher.verify_sync(password_hash, "\ud800") == PasswordCheck(ok=False)


def test_common_password_list_loads_thousands_of_entries() -> None:
    data = resources.files("stackkit.auth").joinpath("common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode().split("\n")
    entries = [line for line in lines if line and not line.startswith("# ")]

    assert lines[0].startswith("# ")
    assert len(entries) == 8354  # the number docs/security.md gives
    assert all(len(entry) >= 8 and is_common_password(entry) for entry in entries)
    assert is_common_password("password123")
    assert is_common_password("PassWord123")
    assert is_common_password("#1stunna")  # an entry, not a comment
    assert not is_common_password("correct horse battery staple")


@pytest.mark.parametrize(
    ("password", "email"),
    [
        pytest.param("short", None, id="too-short"),
        pytest.param("kq7#mv2", None, id="seven-characters"),
        pytest.param("x" * 129, None, id="too-long"),
        pytest.param("password123", None, id="common"),
        pytest.param("PASSWORD123", None, id="common-upper-case"),
        pytest.param("Ada.Lovelace@example.com", "ada.lovelace@example.com", id="email"),
        pytest.param("ADA.LOVELACE", "ada.lovelace@example.com", id="email-local-part"),
    ],
)
def test_policy_refuses(password: str, email: str | None) -> None:
    with pytest.raises(PasswordPolicyError, match=r"^[A-Z][^.]*\.$"):
        PasswordPolicy().check(password, email=email)


@pytest.mark.parametrize(
    "password",
    ["correct horse", "kq7#mv2z", "x" * 64, "x" * 128, "\ufb01" * 4],
    ids=["passphrase", "min-length", "64-chars", "max-length", "ligatures-count-after-nfkc"],
)
def test_policy_accepts(password: str) -> None:
    PasswordPolicy().check(password, email="ada.lovelace@example.com")


def test_policy_can_allow_common_passwords() -> None:
    PasswordPolicy(refuse_common=False).check("password123")


@pytest.mark.parametrize(
    ("min_length", "max_length"),
    [(8, 63), (0, 128), (100, 64)],
    ids=["max-under-64", "min-zero", "min-over-max"],
)
def test_policy_refuses_bad_settings(min_length: int, max_length: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        PasswordPolicy(min_length=min_length, max_length=max_length)


@pytest.mark.parametrize(("min_length", "max_length"), [(1, 64), (64, 64), (1, 1024)])
def test_policy_takes_settings_at_the_edges(min_length: int, max_length: int) -> None:
    policy = PasswordPolicy(min_length=min_length, max_length=max_length)
    assert (policy.min_length, policy.max_length) == (min_length, max_length)


@pytest.mark.parametrize(
    ("min_length", "max_length", "error"),
    [(8, 63, "max_length must be at least 64, not 63"),
     (0, 64, "min_length must be between 1 and max_length, not 0"),
     (65, 64, "min_length must be between 1 and max_length, not 65")],
)  # fmt: skip
def test_policy_says_which_setting_is_wrong(min_length: int, max_length: int, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        PasswordPolicy(min_length=min_length, max_length=max_length)
