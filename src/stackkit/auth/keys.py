"""`TokenKeys`: the key that signs access tokens and the keys that verify them.

One key signs; several may verify, each named by a `kid` (key id) carried in the
token's header. To rotate, sign with a new key while the old one still verifies:
tokens signed before the change keep working until they expire (15 minutes by
default), then the old key can go.

- **HS256** (the default): a key derived from `SECRET_KEY` (never the secret itself,
  which also signs cursors), with `STACKKIT_SECRET_KEY_FALLBACKS` verifying.
- **RS256, ES256, EdDSA**: a PEM private key file signs, and the public keys of
  earlier private keys verify. Other services can then check tokens without being
  able to issue them.

A kid is derived from the key (a digest), so it changes whenever the key does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = ["ALGORITHMS", "MIN_HMAC_KEY_BYTES", "Algorithm", "TokenKeys"]

Algorithm = Literal["HS256", "RS256", "ES256", "EdDSA"]
ALGORITHMS: tuple[Algorithm, ...] = ("HS256", "RS256", "ES256", "EdDSA")
MIN_HMAC_KEY_BYTES = 32
_MIN_RSA_BITS = 2048
_HMAC_PURPOSE = b"stackkit access tokens v1"


@dataclass(frozen=True)
class TokenKeys:
    """The algorithm (one, pinned), the signing key and the verification keys by kid.

    Build it with `from_secret` or `from_files` rather than by hand.
    """

    algorithm: Algorithm
    signing_kid: str
    signing_key: Any = field(repr=False)
    verification_keys: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str, fallbacks: Sequence[str] = ()) -> TokenKeys:
        """HS256 keys derived from `secret` (signs and verifies) and `fallbacks` (verify).

        Raises:
            ValueError: a secret shorter than 32 bytes.
        """
        keys = {}
        for value in (secret, *fallbacks):
            if len(value.encode()) < MIN_HMAC_KEY_BYTES:
                raise ValueError(
                    f"an HS256 signing secret needs at least {MIN_HMAC_KEY_BYTES} bytes"
                )
            key = hmac.new(value.encode(), _HMAC_PURPOSE, hashlib.sha256).digest()
            keys[_kid(key)] = key
        signing_kid = next(iter(keys))
        return cls("HS256", signing_kid, keys[signing_kid], keys)

    @classmethod
    def from_files(
        cls,
        algorithm: Algorithm,
        private_key_file: Path,
        public_key_files: Sequence[Path] = (),
    ) -> TokenKeys:
        """Sign with the PEM private key in `private_key_file`; verify with its public
        key and the PEM public keys in `public_key_files` (earlier keys, kept while
        tokens they signed may still be alive).

        Raises:
            ValueError: a file that cannot be read or parsed, or a key that does not
                fit `algorithm` (RS256: RSA of 2048 bits or more; ES256: EC P-256;
                EdDSA: Ed25519).
        """
        if algorithm not in ALGORITHMS or algorithm == "HS256":
            raise ValueError(f"key files are for RS256, ES256 or EdDSA, not {algorithm}")
        private_key = _load(private_key_file, private=True)
        public_keys = [private_key.public_key()]
        public_keys += [_load(path, private=False) for path in public_key_files]
        for key in (private_key, *public_keys):
            _check_fits(algorithm, key)
        verification = {_kid(_public_bytes(key)): key for key in public_keys}
        signing_kid = _kid(_public_bytes(public_keys[0]))
        return cls(algorithm, signing_kid, private_key, verification)


def _kid(material: bytes) -> str:
    return hashlib.sha256(b"stackkit kid\x00" + material).hexdigest()[:16]


def _public_bytes(key: Any) -> bytes:
    return key.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load(path: Path, *, private: bool) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read key file {path}: {error.strerror}") from None
    try:
        if private:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        kind = "an unencrypted PEM private key" if private else "a PEM public key"
        raise ValueError(f"key file {path} is not {kind} ({error})") from None


def _check_fits(algorithm: Algorithm, key: Any) -> None:
    if algorithm == "RS256":
        fits = (
            isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size >= _MIN_RSA_BITS
        )
        need = f"an RSA key of at least {_MIN_RSA_BITS} bits"
    elif algorithm == "ES256":
        fits = isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and (
            isinstance(key.curve, ec.SECP256R1)
        )
        need = "an EC key on the P-256 curve"
    else:
        fits = isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey)
        need = "an Ed25519 key"
    if not fits:
        raise ValueError(f"{algorithm} needs {need}, not a {type(key).__name__}")
