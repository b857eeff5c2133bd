from __future__ import annotations

import functools
import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from stackkit import Settings
from stackkit.auth.config import token_keys_for
from stackkit.auth.keys import Algorithm, TokenKeys
from stackkit.auth.tokens import AccessTokens, InvalidToken

SECRET = "s" * 32
OTHER_SECRET = "o" * 32
ASYMMETRIC: list[Algorithm] = ["RS256", "ES256", "EdDSA"]


def _generate(kind: str) -> Any:
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise AssertionError(kind)


@functools.cache
def _private_key(kind: str, number: int = 0) -> Any:
    """A key of `kind`, generated once per run (RSA generation is slow); `number`
    tells apart several keys of one kind."""
    return _generate(kind)


KIND = {"RS256": "rsa2048", "ES256": "p256", "EdDSA": "ed25519"}


def write_private(path: Path, key: Any, password: bytes | None = None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def write_public(path: Path, key: Any) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def private_der(key: Any) -> bytes:
    return key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_der(key: Any) -> bytes:
    return key.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verifier_for(keys: TokenKeys) -> AccessTokens:
    """Tokens that can verify with `keys`' public keys only, and cannot sign."""
    public_only = TokenKeys(keys.algorithm, keys.signing_kid, None, dict(keys.verification_keys))
    return AccessTokens(public_only)


def assert_one_line_naming(error: pytest.ExceptionInfo[ValueError], *names: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert any(name in message for name in names), message


# from_secret


def test_secret_under_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenKeys.from_secret("s" * 31)


def test_secret_is_measured_in_bytes_not_characters() -> None:
    TokenKeys.from_secret("é" * 16)  # 16 characters, 32 bytes in UTF-8
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenKeys.from_secret("é" * 15 + "e")


def test_short_fallback_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenKeys.from_secret(SECRET, fallbacks=[OTHER_SECRET, "short"])


def test_kid_is_stable_for_one_secret_and_differs_between_secrets() -> None:
    first = TokenKeys.from_secret(SECRET)
    again = TokenKeys.from_secret(SECRET)
    other = TokenKeys.from_secret(OTHER_SECRET)
    assert first.algorithm == "HS256"
    assert first.signing_kid == again.signing_kid
    assert first.signing_key == again.signing_key
    assert first.signing_kid != other.signing_kid
    assert first.signing_key != other.signing_key


def test_signing_key_is_derived_not_the_secret_itself() -> None:
    keys = TokenKeys.from_secret(SECRET)
    assert keys.signing_key != SECRET.encode()
    assert len(keys.signing_key) == 32


def test_an_hs256_key_and_its_kid_are_derived_so() -> None:
    """The derivation tokens already issued carry: a change signs every user out. The key
    is HMAC-SHA256 of a purpose under the secret (domain separation: the same secret
    also keys refresh tokens, device cookies and cursors); the kid names the key without
    giving it away."""
    keys = TokenKeys.from_secret(SECRET)
    key = hmac.new(SECRET.encode(), b"stackkit access tokens v1", hashlib.sha256).digest()
    kid = hashlib.sha256(b"stackkit kid\x00" + key).hexdigest()[:16]
    assert (keys.signing_key, keys.signing_kid, keys.verification_keys) == (key, kid, {kid: key})


def test_fallbacks_verify_but_do_not_sign() -> None:
    keys = TokenKeys.from_secret(SECRET, fallbacks=[OTHER_SECRET])
    fallback_kid = TokenKeys.from_secret(OTHER_SECRET).signing_kid
    assert keys.signing_kid == TokenKeys.from_secret(SECRET).signing_kid
    assert set(keys.verification_keys) == {keys.signing_kid, fallback_kid}
    assert keys.verification_keys[keys.signing_kid] == keys.signing_key
    assert keys.verification_keys[fallback_kid] != keys.signing_key


def test_token_signed_with_a_fallback_secret_verifies_after_rotation() -> None:
    old = AccessTokens(TokenKeys.from_secret(OTHER_SECRET))
    token = old.issue("42", "sid").token
    rotated = AccessTokens(TokenKeys.from_secret(SECRET, fallbacks=[OTHER_SECRET]))
    assert rotated.verify(token).subject == "42"
    with pytest.raises(InvalidToken):
        AccessTokens(TokenKeys.from_secret(SECRET)).verify(token)


# from_files: accepted keys


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_from_files_signs_with_the_private_key_and_verifies_with_its_public_key(
    algorithm: Algorithm, tmp_path: Path
) -> None:
    private = _private_key(KIND[algorithm])
    keys = TokenKeys.from_files(algorithm, write_private(tmp_path / "key.pem", private))
    assert keys.algorithm == algorithm
    assert private_der(keys.signing_key) == private_der(private)
    assert list(keys.verification_keys) == [keys.signing_kid]
    assert public_der(keys.verification_keys[keys.signing_kid]) == public_der(private.public_key())


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_kid_of_a_key_file_is_stable_and_differs_between_keys(
    algorithm: Algorithm, tmp_path: Path
) -> None:
    first = write_private(tmp_path / "first.pem", _private_key(KIND[algorithm]))
    second = write_private(tmp_path / "second.pem", _private_key(KIND[algorithm], 1))
    kid = TokenKeys.from_files(algorithm, first).signing_kid
    assert TokenKeys.from_files(algorithm, first).signing_kid == kid
    assert TokenKeys.from_files(algorithm, second).signing_kid != kid


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_rotation_verifies_old_and_new_keys_and_signs_with_the_new(
    algorithm: Algorithm, tmp_path: Path
) -> None:
    old = _private_key(KIND[algorithm])
    new = _private_key(KIND[algorithm], 1)
    old_private = write_private(tmp_path / "old.pem", old)
    old_public = write_public(tmp_path / "old.pub.pem", old)
    new_private = write_private(tmp_path / "new.pem", new)

    before = TokenKeys.from_files(algorithm, old_private)
    after = TokenKeys.from_files(algorithm, new_private, [old_public])
    new_only = TokenKeys.from_files(algorithm, new_private)

    assert after.signing_kid == new_only.signing_kid
    assert after.signing_kid != before.signing_kid
    assert set(after.verification_keys) == {new_only.signing_kid, before.signing_kid}


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_token_from_key_files_verifies_with_the_public_key_only(
    algorithm: Algorithm, tmp_path: Path
) -> None:
    private = _private_key(KIND[algorithm])
    keys = TokenKeys.from_files(algorithm, write_private(tmp_path / "key.pem", private))
    token = AccessTokens(keys).issue("42", "sid", roles=["admin"]).token

    claims = verifier_for(keys).verify(token)

    assert claims.subject == "42"
    assert claims.roles == frozenset({"admin"})
    other = TokenKeys.from_files(
        algorithm, write_private(tmp_path / "other.pem", _private_key(KIND[algorithm], 1))
    )
    with pytest.raises(InvalidToken):
        verifier_for(other).verify(token)


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_token_issued_under_the_old_key_still_verifies_after_rotation(
    algorithm: Algorithm, tmp_path: Path
) -> None:
    old = _private_key(KIND[algorithm])
    new = _private_key(KIND[algorithm], 1)
    old_keys = TokenKeys.from_files(algorithm, write_private(tmp_path / "old.pem", old))
    old_token = AccessTokens(old_keys).issue("42", "sid").token
    new_private = write_private(tmp_path / "new.pem", new)
    rotated = TokenKeys.from_files(
        algorithm, new_private, [write_public(tmp_path / "old.pub.pem", old)]
    )
    new_token = AccessTokens(rotated).issue("43", "sid").token

    assert verifier_for(rotated).verify(old_token).subject == "42"
    assert verifier_for(rotated).verify(new_token).subject == "43"
    # Once the old public key is dropped, its tokens stop.
    with pytest.raises(InvalidToken):
        verifier_for(TokenKeys.from_files(algorithm, new_private)).verify(old_token)


# from_files: refused keys


@pytest.mark.parametrize(
    ("algorithm", "kind", "need"),
    [
        ("RS256", "rsa1024", "an RSA key of at least 2048 bits"),
        ("RS256", "p256", "an RSA key of at least 2048 bits"),
        ("ES256", "p384", "an EC key on the P-256 curve"),
        ("ES256", "rsa2048", "an EC key on the P-256 curve"),
        ("EdDSA", "rsa2048", "an Ed25519 key"),
        ("EdDSA", "p256", "an Ed25519 key"),
    ],
    ids=[
        "rsa-1024-for-rs256",
        "ec-for-rs256",
        "p384-for-es256",
        "rsa-for-es256",
        "rsa-for-eddsa",
        "ec-for-eddsa",
    ],
)
def test_private_key_that_does_not_fit_the_algorithm_is_refused(
    algorithm: Algorithm, kind: str, need: str, tmp_path: Path
) -> None:
    key = _private_key(kind)
    path = write_private(tmp_path / "key.pem", key)
    error = f"{algorithm} needs {need}, not a {type(key).__name__}"
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        TokenKeys.from_files(algorithm, path)


def test_old_public_key_that_does_not_fit_the_algorithm_is_refused(tmp_path: Path) -> None:
    private = write_private(tmp_path / "key.pem", _private_key("p256"))
    wrong = write_public(tmp_path / "old.pub.pem", _private_key("p384"))
    with pytest.raises(ValueError, match="P-256") as error:
        TokenKeys.from_files("ES256", private, [wrong])
    assert_one_line_naming(error, "P-256")


def test_public_key_file_given_as_the_private_key_is_refused(tmp_path: Path) -> None:
    path = write_public(tmp_path / "key.pub.pem", _private_key("ed25519"))
    with pytest.raises(ValueError, match="private key") as error:
        TokenKeys.from_files("EdDSA", path)
    assert_one_line_naming(error, str(path))


def test_private_key_file_given_as_an_old_public_key_is_refused(tmp_path: Path) -> None:
    private = write_private(tmp_path / "key.pem", _private_key("ed25519"))
    old = write_private(tmp_path / "old.pem", _private_key("ed25519", 1))
    with pytest.raises(
        ValueError, match=f"^{re.escape(f'key file {old} is not a PEM public key (')}"
    ) as error:
        TokenKeys.from_files("EdDSA", private, [old])
    assert_one_line_naming(error, str(old))


def test_encrypted_private_key_is_refused(tmp_path: Path) -> None:
    path = write_private(tmp_path / "key.pem", _private_key("p256"), password=b"hunter22")
    with pytest.raises(ValueError, match="unencrypted") as error:
        TokenKeys.from_files("ES256", path)
    assert_one_line_naming(error, str(path))


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffnot a key at all\x80",
        b"",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
    ids=["garbage", "empty", "pem-framing-garbage-inside"],
)
def test_garbage_key_file_is_refused(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not an unencrypted PEM private key") as error:
        TokenKeys.from_files("RS256", path)
    assert_one_line_naming(error, str(path))


@pytest.mark.parametrize("which", ["private", "public"])
def test_missing_key_file_is_refused(which: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    if which == "private":
        args: tuple[Path, list[Path]] = (missing, [])
    else:
        args = (write_private(tmp_path / "key.pem", _private_key("ed25519")), [missing])
    with pytest.raises(ValueError, match="cannot read key file") as error:
        TokenKeys.from_files("EdDSA", *args)
    assert_one_line_naming(error, str(missing))


def test_directory_as_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read key file") as error:
        TokenKeys.from_files("EdDSA", tmp_path)
    assert_one_line_naming(error, str(tmp_path))


@pytest.mark.parametrize("algorithm", ["HS256", "none", "RS512"])
def test_from_files_refuses_algorithms_other_than_rs256_es256_eddsa(
    algorithm: Any, tmp_path: Path
) -> None:
    path = write_private(tmp_path / "key.pem", _private_key("rsa2048"))
    with pytest.raises(ValueError, match="RS256, ES256 or EdDSA") as error:
        TokenKeys.from_files(algorithm, path)
    assert_one_line_naming(error, algorithm)


# The keys an app's settings name (`token_keys_for`)


def test_the_settings_fallback_secrets_still_verify() -> None:
    old, new = "an old secret key, long enough to use", "a new secret key, long enough to use"
    before = AccessTokens(token_keys_for(Settings(env="test", secret_key=old)))
    rotated = Settings(env="test", secret_key=new, secret_key_fallbacks=[old])
    assert AccessTokens(token_keys_for(rotated)).verify(before.issue("7", "s").token).subject == "7"


def test_the_settings_old_public_keys_still_verify(tmp_path: Path) -> None:
    old_key, new_key = _private_key("ed25519"), _private_key("ed25519", 1)
    old = Settings(
        env="test", jwt_algorithm="EdDSA",
        jwt_private_key_file=write_private(tmp_path / "old.pem", old_key),
    )  # fmt: skip
    rotated = Settings(
        env="test", jwt_algorithm="EdDSA",
        jwt_private_key_file=write_private(tmp_path / "new.pem", new_key),
        jwt_public_key_files=[write_public(tmp_path / "old.pub.pem", old_key)],
    )  # fmt: skip
    token = AccessTokens(token_keys_for(old)).issue("7", "s").token
    assert AccessTokens(token_keys_for(rotated)).verify(token).subject == "7"
