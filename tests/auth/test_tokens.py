"""`AccessTokens`: what each refusal says, and the tables that keep verification cheap
(verified tokens, keys by header) bounded and right."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest

from stackkit.auth import AccessTokens, InvalidToken, TokenKeys
from stackkit.auth.tokens import MAX_TOKEN_LENGTH
from tests.helpers import Clock

KEYS = TokenKeys.from_secret("access-token-tests-secret-0123456789")
OTHER_KEYS = TokenKeys.from_secret("another-apps-secret-0123456789abcdef")
NOW = int(Clock().now)


def minted(keys: TokenKeys = KEYS, header: dict[str, Any] | None = None, **changes: Any) -> str:
    """A token as `AccessTokens.issue` makes one at `NOW`, with `changes` (None drops a
    claim) and `header` added to its header."""
    claims = {"sub": "7", "sid": "s1", "jti": "j1", "iat": NOW, "nbf": NOW, "exp": NOW + 900,
              "iss": "stackkit", "aud": "stackkit", "roles": ["editor"]}  # fmt: skip
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    headers = {"kid": keys.signing_kid, "typ": "at+jwt", **(header or {})}
    return jwt.encode(claims, keys.signing_key, algorithm="HS256", headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


NOT_VALID = "The access token is not valid."

REFUSALS = {
    "expired": (lambda: minted(exp=NOW - 5), "The access token has expired."),
    "not-yet": (lambda: minted(nbf=NOW + 6), "The access token is not valid yet."),
    "from-the-future": (lambda: minted(iat=NOW + 6), "The access token was issued in the future."),
    "too-long": (lambda: "a" * (MAX_TOKEN_LENGTH + 1), "The access token is too long."),
    "garbage": (lambda: "not.a.token", NOT_VALID),
    "header-not-an-object": (
        lambda: b64(b"[1]") + ".e30.x", "The access token was signed with an unknown key."
    ),
    "unknown-key": (lambda: minted(OTHER_KEYS), "The access token was signed with an unknown key."),
    "kid-not-a-string": (
        lambda: b64(b'{"kid": 7}') + ".e30.x", "The access token was signed with an unknown key."
    ),
    "not-an-access-token": (
        lambda: minted(header={"typ": "JWT"}), "The token is not an access token."
    ),
    "bad-signature": (lambda: minted()[:-2] + "AA", NOT_VALID),
    "no-session": (lambda: minted(sid=None), NOT_VALID),
    # Each claim of the wrong type, or empty, on its own.
    "subject-a-number": (lambda: minted(sub=7), NOT_VALID),
    "session-a-number": (lambda: minted(sid=1), NOT_VALID),
    "token-id-a-number": (lambda: minted(jti=1), NOT_VALID),
    "subject-empty": (lambda: minted(sub=""), NOT_VALID),
    "session-empty": (lambda: minted(sid=""), NOT_VALID),
    "token-id-empty": (lambda: minted(jti=""), NOT_VALID),
    "expiry-a-string": (lambda: minted(exp=str(NOW + 900)), NOT_VALID),
    "issued-a-bool": (lambda: minted(iat=True), NOT_VALID),
    "roles-a-string": (lambda: minted(roles="admin"), NOT_VALID),
    "verified-a-string": (lambda: minted(ev="true"), NOT_VALID),
    "verified-a-number": (lambda: minted(ev=1), NOT_VALID),
}  # fmt: skip


@pytest.mark.parametrize(("token", "message"), REFUSALS.values(), ids=REFUSALS)
def test_each_refusal_says_why(token: Any, message: str) -> None:
    with pytest.raises(InvalidToken) as raised:
        AccessTokens(KEYS, clock=Clock(), leeway=5).verify(token())
    assert str(raised.value) == message


def test_the_claims_are_the_tokens() -> None:
    claims = AccessTokens(KEYS, clock=Clock()).verify(minted(roles=["editor", "admin"]))
    assert claims == ("7", "s1", frozenset({"admin", "editor"}), "j1", NOW, NOW, NOW + 900, False)
    verified = AccessTokens(KEYS, clock=Clock()).verify(minted(ev=True))
    assert verified.email_verified is True


class CountingDecodes(AccessTokens):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decoded: list[str] = []

    def _decode(self, token: str) -> Any:
        self.decoded.append(token)
        return super()._decode(token)


def test_a_verified_token_is_decoded_once_and_forgotten_once_expired() -> None:
    clock = Clock()
    tokens = CountingDecodes(KEYS, clock=clock, leeway=0)
    token = minted()
    first, again = tokens.verify(token), tokens.verify(token)
    assert again == first
    assert tokens.decoded == [token]
    clock.now = NOW + 900
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)
    assert token not in tokens._verified  # an expired token leaves the table


@pytest.mark.parametrize(("cache_size", "decodes"), [(0, 2), (1, 1)])
def test_cache_size_0_remembers_nothing_and_1_one_token(cache_size: int, decodes: int) -> None:
    tokens = CountingDecodes(KEYS, clock=Clock(), cache_size=cache_size)
    token = minted()
    tokens.verify(token)
    tokens.verify(token)
    assert len(tokens.decoded) == decodes


def test_a_full_table_forgets_its_oldest_token() -> None:
    tokens = CountingDecodes(KEYS, clock=Clock(), cache_size=2)
    first, second, third = (minted(jti=f"j{n}") for n in range(3))
    for token in (first, second, third):
        tokens.verify(token)
    assert list(tokens._verified) == [second, third]
    for token in (second, third, first):
        tokens.verify(token)
    assert tokens.decoded == [first, second, third, first]


def test_keys_are_kept_for_at_most_64_headers() -> None:
    tokens = AccessTokens(KEYS, clock=Clock())
    for n in range(70):
        tokens.verify(minted(header={"n": n}))
    assert len(tokens._key_by_header) == 64
    assert tokens.verify(minted(header={"n": 69})).subject == "7"  # not kept, still verified


def test_a_header_seen_before_is_not_read_again() -> None:
    tokens = AccessTokens(KEYS, clock=Clock())
    token = minted()
    header = token.partition(".")[0]
    tokens.verify(token)
    assert tokens._key_by_header == {header: KEYS.verification_keys[KEYS.signing_kid]}
    # What the table says is what counts: a wrong key there fails the next new token.
    tokens._key_by_header[header] = OTHER_KEYS.verification_keys[OTHER_KEYS.signing_kid]
    with pytest.raises(InvalidToken, match="not valid"):
        tokens.verify(minted(jti="j2"))


def test_an_issued_token_has_a_random_id_of_96_bits() -> None:
    tokens = AccessTokens(KEYS, clock=Clock())
    ids = {tokens.verify(tokens.issue("7", "s1").token).token_id for _ in range(3)}
    assert len(ids) == 3
    assert all(len(base64.urlsafe_b64decode(token_id)) == 12 for token_id in ids)


def test_defaults_and_the_bounds_of_ttl_and_leeway() -> None:
    tokens = AccessTokens(KEYS)
    assert (tokens.ttl, tokens.leeway, tokens.cache_size) == (900, 5.0, 10_000)
    assert AccessTokens(KEYS, ttl=1, leeway=0).ttl == 1
    with pytest.raises(ValueError, match=r"^ttl must be positive$"):
        AccessTokens(KEYS, ttl=0)
    with pytest.raises(ValueError, match=r"^leeway must be 0 or more$"):
        AccessTokens(KEYS, leeway=-0.5)


def test_an_expired_token_is_refused_with_no_table_too() -> None:
    clock = Clock()
    tokens = AccessTokens(KEYS, clock=clock, cache_size=0, leeway=0)
    token = minted()
    clock.now = NOW + 900
    with pytest.raises(InvalidToken, match=r"^The access token has expired\.$"):
        tokens.verify(token)
