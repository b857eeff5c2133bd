from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from stackkit.auth.refresh import (
    InvalidRefreshToken,
    RefreshSessions,
    RefreshTokenReused,
    _token,
)
from stackkit.cache import MemoryStore, RedisStore, Session, SessionStore, Store, StoreUnavailable
from stackkit.testing import delete_keys, unique_key_prefix
from tests.conftest import STORE_TIMEOUT
from tests.helpers import Clock

TTL = 3600
MAX_LIFETIME = 4 * 3600
GRACE = 10
URLSAFE = "[A-Za-z0-9_-]"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A store of each kind, under a key prefix of this test's own, emptied afterwards."""
    prefix = unique_key_prefix()
    if request.param == "memory":
        yield MemoryStore(prefix=prefix)
        return
    url = request.getfixturevalue("redis_url")
    redis_store = RedisStore(url, prefix=prefix, timeout=STORE_TIMEOUT)
    await redis_store.open()
    try:
        yield redis_store
    finally:
        await redis_store.close()
        delete_keys(url, prefix)


@pytest.fixture
def sessions(store: Store, clock: Clock) -> SessionStore:
    return SessionStore(store, ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock)


SECRET = "the app's SECRET_KEY, long enough"


@pytest.fixture
def refresh(sessions: SessionStore, clock: Clock) -> RefreshSessions:
    """As `create_app` builds it: with the app's secret key."""
    return RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=[SECRET])


def generation_of(token: str) -> int:
    return int(token.split(".")[1])


URLSAFE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def with_other_char(token: str, index: int) -> str:
    """`token` with one character of its MAC replaced, at `index` (negative: from
    the end), by another of the same alphabet: the token keeps its shape. The new
    character differs in its highest bit, which is data even in the last character
    (whose lowest two bits are padding), so the MAC decodes to other bytes."""
    index %= len(token)
    assert index > token.rindex("."), "the index must fall in the MAC"
    replacement = URLSAFE_ALPHABET[URLSAFE_ALPHABET.index(token[index]) ^ 32]
    return token[:index] + replacement + token[index + 1 :]


def mac_bytes(token: str) -> bytes:
    return base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "=")


def assert_a_wrong_mac_of_the_right_shape(forged: str, genuine: str) -> None:
    """`forged` is `genuine` but for one character of the MAC, which still decodes to
    32 bytes, other bytes: refusing it tests the MAC check, not the parser's."""
    assert len(forged) == len(genuine)
    assert sum(a != b for a, b in zip(forged, genuine, strict=True)) == 1
    assert forged.rsplit(".", 1)[0] == genuine.rsplit(".", 1)[0]
    assert re.fullmatch(f"{URLSAFE}{{43}}", forged.rsplit(".", 1)[1])
    assert len(mac_bytes(forged)) == 32
    assert mac_bytes(forged) != mac_bytes(genuine)


# start


async def test_start_gives_a_first_generation_token_of_the_new_session(
    refresh: RefreshSessions,
) -> None:
    grant = await refresh.start("42")
    session_id, generation, mac = grant.refresh_token.split(".")
    assert session_id == grant.session.id
    assert generation == "1"
    assert grant.session.user_id == "42"
    # The user's id and 32 random characters (192 bits), and a 43-character HMAC-SHA256.
    assert re.fullmatch(f"42~{URLSAFE}{{32}}", session_id)
    assert re.fullmatch(f"{URLSAFE}{{43}}", mac)


async def test_start_keeps_the_details_with_the_session(
    refresh: RefreshSessions, sessions: SessionStore
) -> None:
    grant = await refresh.start("42", user_agent="Firefox", address="203.0.113.7")
    stored = await sessions.get(grant.session.id)
    assert stored is not None
    assert stored.user_id == "42"
    assert stored.data["user_agent"] == "Firefox"
    assert stored.data["address"] == "203.0.113.7"
    assert [s.id for s in await sessions.list("42")] == [grant.session.id]


async def test_details_cannot_replace_the_session_key_or_generation(
    refresh: RefreshSessions,
) -> None:
    grant = await refresh.start("42", key="chosen", generation=7)
    assert grant.session.data["key"] != "chosen"
    assert generation_of(grant.refresh_token) == 1
    assert generation_of((await refresh.rotate(grant.refresh_token)).refresh_token) == 2


async def test_each_session_gets_its_own_random_id_and_key(refresh: RefreshSessions) -> None:
    grants = [await refresh.start("42") for _ in range(5)]
    assert len({g.session.id for g in grants}) == 5
    assert len({g.refresh_token.split(".")[2] for g in grants}) == 5
    keys = [g.session.data["key"] for g in grants]
    assert len(set(keys)) == 5
    assert all(len(key) >= 43 for key in keys)  # 32 random bytes, urlsafe


# rotate


async def test_rotate_gives_the_next_generation_and_slides_expiry(
    refresh: RefreshSessions, clock: Clock
) -> None:
    first = await refresh.start("42", user_agent="Firefox")
    clock.now += 1000

    second = await refresh.rotate(first.refresh_token)

    assert second.refresh_token != first.refresh_token
    assert second.refresh_token.startswith(f"{first.session.id}.2.")
    assert second.session.id == first.session.id
    assert second.session.expires_at == clock.now + TTL
    assert second.session.expires_at > first.session.expires_at
    assert second.session.data["user_agent"] == "Firefox"
    assert second.session.data["rotated_at"] == clock.now


async def test_rotated_token_rotates_again(refresh: RefreshSessions, clock: Clock) -> None:
    grant = await refresh.start("42")
    for generation in range(2, 6):
        clock.now += 60
        grant = await refresh.rotate(grant.refresh_token)
        assert generation_of(grant.refresh_token) == generation


async def test_spent_refresh_token_revokes_session(
    refresh: RefreshSessions, sessions: SessionStore, clock: Clock
) -> None:
    first = await refresh.start("42")
    second = await refresh.rotate(first.refresh_token)
    clock.now += GRACE + 0.001

    with pytest.raises(RefreshTokenReused):
        await refresh.rotate(first.refresh_token)

    assert await sessions.get(first.session.id) is None
    assert await sessions.list("42") == []
    with pytest.raises(InvalidRefreshToken) as newest:
        await refresh.rotate(second.refresh_token)
    assert not isinstance(newest.value, RefreshTokenReused)


async def test_token_two_generations_old_revokes_session_even_within_grace(
    refresh: RefreshSessions, sessions: SessionStore
) -> None:
    first = await refresh.start("42")
    second = await refresh.rotate(first.refresh_token)
    await refresh.rotate(second.refresh_token)

    with pytest.raises(RefreshTokenReused):
        await refresh.rotate(first.refresh_token)
    assert await sessions.get(first.session.id) is None


@pytest.mark.parametrize("elapsed", [0, 1, GRACE], ids=["at-once", "one-second", "at-the-limit"])
async def test_previous_token_within_grace_yields_the_current_token(
    refresh: RefreshSessions, sessions: SessionStore, clock: Clock, elapsed: float
) -> None:
    first = await refresh.start("42")
    second = await refresh.rotate(first.refresh_token)
    clock.now += elapsed

    again = await refresh.rotate(first.refresh_token)

    assert again.refresh_token == second.refresh_token
    assert again.session.id == first.session.id
    assert await sessions.get(first.session.id) is not None
    third = await refresh.rotate(second.refresh_token)
    assert generation_of(third.refresh_token) == 3


@pytest.mark.parametrize(
    "elapsed",
    [
        0,
        0.001,
        60,
    ],
    ids=["same-instant", "a-millisecond-later", "a-minute-later"],
)
async def test_previous_token_with_zero_grace_revokes_session(
    sessions: SessionStore, clock: Clock, elapsed: float
) -> None:
    refresh = RefreshSessions(sessions, grace=0, clock=clock, secret_keys=[SECRET])
    first = await refresh.start("42")
    await refresh.rotate(first.refresh_token)
    clock.now += elapsed

    with pytest.raises(RefreshTokenReused):
        await refresh.rotate(first.refresh_token)
    assert await sessions.get(first.session.id) is None


async def test_concurrent_rotations_with_one_token_get_the_same_new_token(
    refresh: RefreshSessions, sessions: SessionStore
) -> None:
    first = await refresh.start("42")

    one, other = await asyncio.gather(
        refresh.rotate(first.refresh_token), refresh.rotate(first.refresh_token)
    )

    assert one.refresh_token == other.refresh_token
    assert generation_of(one.refresh_token) == 2
    third = await refresh.rotate(one.refresh_token)
    assert generation_of(third.refresh_token) == 3
    assert await sessions.get(first.session.id) is not None


class PausingSessionStore(SessionStore):
    """Holds the next read of a session, once armed, until `resume` is set: a request
    that read the session, then stalled (a slow worker) before writing it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.armed = False
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    async def get(self, session_id: str) -> Session | None:
        session = await super().get(session_id)
        if self.armed:
            self.armed = False
            self.paused.set()
            await self.resume.wait()
        return session


async def test_stalled_duplicate_rotation_does_not_roll_back_a_newer_generation(
    store: Store, clock: Clock
) -> None:
    sessions = PausingSessionStore(store, ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock)
    refresh = RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=[SECRET])
    first = await refresh.start("42")
    sessions.armed = True
    stalled = asyncio.create_task(refresh.rotate(first.refresh_token))
    await sessions.paused.wait()  # it read generation 1, and waits
    second = await refresh.rotate(first.refresh_token)
    third = await refresh.rotate(second.refresh_token)
    sessions.resume.set()
    assert (await stalled).refresh_token == second.refresh_token

    fourth = await refresh.rotate(third.refresh_token)

    assert generation_of(fourth.refresh_token) == 4


# refused tokens


@pytest.mark.parametrize("index", [-1, -20, -43], ids=["last", "middle", "first"])
@pytest.mark.parametrize("generation", ["current", "spent", "future"])
async def test_wrong_mac_is_refused_without_revoking_the_session(
    refresh: RefreshSessions, sessions: SessionStore, clock: Clock, index: int, generation: str
) -> None:
    first = await refresh.start("42")
    second = await refresh.rotate(first.refresh_token)
    clock.now += GRACE + 1
    session_id, _, mac = second.refresh_token.split(".")
    number = {"current": 2, "spent": 1, "future": 3}[generation]
    genuine = f"{session_id}.{number}.{mac}"
    forged = with_other_char(genuine, index)
    assert_a_wrong_mac_of_the_right_shape(forged, genuine)

    with pytest.raises(InvalidRefreshToken) as error:
        await refresh.rotate(forged)

    assert not isinstance(error.value, RefreshTokenReused)
    assert await sessions.get(first.session.id) is not None
    assert generation_of((await refresh.rotate(second.refresh_token)).refresh_token) == 3


async def test_token_of_another_session_is_refused_without_revoking_either(
    refresh: RefreshSessions, sessions: SessionStore
) -> None:
    mine = await refresh.start("42")
    theirs = await refresh.start("43")
    _, generation, mac = mine.refresh_token.split(".")
    spliced = f"{theirs.session.id}.{generation}.{mac}"

    with pytest.raises(InvalidRefreshToken):
        await refresh.rotate(spliced)

    assert await sessions.get(mine.session.id) is not None
    assert await sessions.get(theirs.session.id) is not None


MALFORMED = {
    "empty": "",
    "no-dots": "abc",
    "two-parts": "a.b",
    "generation-not-a-number": "a.x.c",
    "four-parts": "a.1.b.c",
    "negative-generation": "a.-1.c",
    "empty-parts": "..",
    "very-long": "x" * 10_000,
    "very-long-with-dots": "a.1." + "c" * 10_000,
    "unknown-session": "a" * 32 + ".1." + "c" * 43,
    "non-ascii": "sessión.1.mac",
    "glob-in-session-id": "*.1.c",
    "huge-generation": "a." + "9" * 150 + ".c",
    "superscript-digit-generation": "a.\u00b2.c",
}


@pytest.mark.parametrize(
    "token",
    [pytest.param(token, id=name) for name, token in MALFORMED.items()],
)
async def test_malformed_token_raises_invalid_refresh_token(
    refresh: RefreshSessions, sessions: SessionStore, token: str
) -> None:
    grant = await refresh.start("42")
    with pytest.raises(InvalidRefreshToken) as error:
        await refresh.rotate(token)
    assert not isinstance(error.value, RefreshTokenReused)
    with pytest.raises(InvalidRefreshToken):
        await refresh.session_of(token)
    assert await sessions.get(grant.session.id) is not None


@pytest.mark.parametrize("where", ["mac", "session-id"])
async def test_lone_surrogate_in_a_token_raises_invalid_refresh_token(
    refresh: RefreshSessions, where: str
) -> None:
    grant = await refresh.start("42")
    session_id, generation, _ = grant.refresh_token.split(".")
    token = f"{session_id}.{generation}.\ud800" if where == "mac" else "\ud800.1.c"
    with pytest.raises(InvalidRefreshToken):
        await refresh.rotate(token)


# expiry and revocation


async def test_session_past_its_ttl_makes_the_token_invalid(
    refresh: RefreshSessions, clock: Clock
) -> None:
    grant = await refresh.start("42")
    clock.now += TTL - 1
    grant = await refresh.rotate(grant.refresh_token)  # slides expiry to now + TTL
    clock.now += TTL - 1
    assert (await refresh.session_of(grant.refresh_token)).id == grant.session.id
    clock.now += 1

    with pytest.raises(InvalidRefreshToken) as error:
        await refresh.rotate(grant.refresh_token)
    assert not isinstance(error.value, RefreshTokenReused)
    with pytest.raises(InvalidRefreshToken):
        await refresh.session_of(grant.refresh_token)


async def test_session_past_its_max_lifetime_makes_the_token_invalid(
    refresh: RefreshSessions, clock: Clock
) -> None:
    start = clock.now
    grant = await refresh.start("42")
    while clock.now + 3000 < start + MAX_LIFETIME:
        clock.now += 3000
        grant = await refresh.rotate(grant.refresh_token)
    assert grant.session.expires_at == start + MAX_LIFETIME  # capped, not now + TTL
    clock.now = start + MAX_LIFETIME

    with pytest.raises(InvalidRefreshToken):
        await refresh.rotate(grant.refresh_token)


async def test_session_of_returns_the_session_without_spending_the_token(
    refresh: RefreshSessions, sessions: SessionStore, clock: Clock
) -> None:
    grant = await refresh.start("42", user_agent="Firefox")
    clock.now += GRACE + 1

    for _ in range(2):
        session = await refresh.session_of(grant.refresh_token)
        assert session.id == grant.session.id
        assert session.data["user_agent"] == "Firefox"
        assert session.data["generation"] == 1

    rotated = await refresh.rotate(grant.refresh_token)
    assert generation_of(rotated.refresh_token) == 2
    assert await sessions.get(grant.session.id) is not None


async def test_session_of_accepts_a_spent_token_without_revoking(
    refresh: RefreshSessions, sessions: SessionStore, clock: Clock
) -> None:
    first = await refresh.start("42")
    second = await refresh.rotate(first.refresh_token)
    clock.now += GRACE + 1

    assert (await refresh.session_of(first.refresh_token)).id == first.session.id
    assert await sessions.get(first.session.id) is not None
    assert generation_of((await refresh.rotate(second.refresh_token)).refresh_token) == 3


@pytest.mark.parametrize("index", [-1, -43], ids=["last", "first"])
async def test_session_of_refuses_a_wrong_mac(refresh: RefreshSessions, index: int) -> None:
    grant = await refresh.start("42")
    forged = with_other_char(grant.refresh_token, index)
    assert_a_wrong_mac_of_the_right_shape(forged, grant.refresh_token)
    with pytest.raises(InvalidRefreshToken, match="not valid"):
        await refresh.session_of(forged)
    assert (await refresh.session_of(grant.refresh_token)).id == grant.session.id


def test_the_helper_changes_the_last_character_not_the_whole_token() -> None:
    token = "s" * 32 + ".1." + "A" * 42 + "E"
    assert with_other_char(token, -1) == token[:-1] + "k"  # E is 4, k is 4 + 32
    assert with_other_char(token, -43) == "s" * 32 + ".1.g" + "A" * 41 + "E"


@pytest.mark.parametrize("how", ["revoke", "revoke_all"])
async def test_revoked_session_makes_rotate_fail(
    refresh: RefreshSessions, sessions: SessionStore, how: str
) -> None:
    grant = await refresh.start("42")
    if how == "revoke":
        assert await sessions.revoke(grant.session.id)
    else:
        assert await sessions.revoke_all("42") == 1

    with pytest.raises(InvalidRefreshToken) as error:
        await refresh.rotate(grant.refresh_token)
    assert not isinstance(error.value, RefreshTokenReused)


class RevokingSessionStore(SessionStore):
    """Revokes the session right after the `revoke_after`-th read of it, once armed: a
    revoke (log out elsewhere) landing between a rotation's read and its write."""

    def __init__(self, *args: Any, revoke_after: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.revoke_after = revoke_after
        self.armed = False
        self.reads = 0

    async def get(self, session_id: str) -> Session | None:
        session = await super().get(session_id)
        if self.armed:
            self.reads += 1
            if self.reads == self.revoke_after:
                self.armed = False
                await self.revoke(session_id)
        return session


@pytest.mark.parametrize(
    "revoke_after", [1, 2], ids=["after-the-token-check", "after-the-touch-read"]
)
async def test_rotate_racing_with_a_revoke_does_not_resurrect_the_session(
    store: Store, clock: Clock, revoke_after: int
) -> None:
    sessions = RevokingSessionStore(
        store, ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock, revoke_after=revoke_after
    )
    refresh = RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=[SECRET])
    grant = await refresh.start("42")
    sessions.armed = True

    with pytest.raises(InvalidRefreshToken):
        await refresh.rotate(grant.refresh_token)

    assert sessions.reads >= revoke_after  # the revoke did happen mid-rotation
    assert not await sessions.is_alive(grant.session.id)
    assert await sessions.list("42") == []
    with pytest.raises(InvalidRefreshToken):
        await refresh.rotate(grant.refresh_token)


class FailingOnceSessionStore(SessionStore):
    """The store drops out once, at the rotation's write."""

    failed = False

    async def touch(self, session_id: str, data: Any = None) -> Session | None:
        if not self.failed:
            self.failed = True
            raise StoreUnavailable("the store went away")
        return await super().touch(session_id, data)


async def test_a_rotation_whose_write_failed_can_be_retried(store: Store, clock: Clock) -> None:
    sessions = FailingOnceSessionStore(store, ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock)
    refresh = RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=[SECRET])
    grant = await refresh.start("42")
    with pytest.raises(StoreUnavailable):
        await refresh.rotate(grant.refresh_token)
    retried = await refresh.rotate(grant.refresh_token)
    assert generation_of(retried.refresh_token) == 2
    clock.now += GRACE + 1
    third = await refresh.rotate(retried.refresh_token)  # not taken for a spent token
    assert generation_of(third.refresh_token) == 3


async def test_reading_the_store_is_not_enough_to_make_a_token(
    refresh: RefreshSessions, sessions: SessionStore
) -> None:
    grant = await refresh.start("7")
    stored = await sessions.get(grant.session.id)
    assert stored is not None
    # What the store holds, used as the MAC key (as before secret keys were used):
    forged = _token(str(stored.data["key"]).encode(), grant.session.id, 1)
    with pytest.raises(InvalidRefreshToken, match="not valid"):
        await refresh.rotate(forged)
    assert await sessions.get(grant.session.id) is not None  # nothing revoked by a guess
    assert generation_of((await refresh.rotate(grant.refresh_token)).refresh_token) == 2


async def test_tokens_outlive_a_change_of_secret_key_kept_as_a_fallback(
    sessions: SessionStore, clock: Clock
) -> None:
    before = RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=["old key"])
    grant = await before.start("7")
    after = RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=["new key", "old key"])
    rotated = await after.rotate(grant.refresh_token)
    # The next token is under the new key: it works once the old one is dropped, and
    # the old key alone does not verify it.
    new_only = RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=["new key"])
    third = (await new_only.rotate(rotated.refresh_token)).refresh_token
    assert generation_of(third) == 3
    old_only = RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=["old key"])
    with pytest.raises(InvalidRefreshToken, match="not valid"):
        await old_only.session_of(third)


async def test_sessions_made_without_secret_keys_still_work_with_them(
    sessions: SessionStore, clock: Clock
) -> None:
    # A session as an older stackkit made it without secret keys: its stored value is
    # the MAC key itself. It keeps working until it ends.
    key = "a-random-value-kept-with-the-session"
    data = {"key": key, "wrapped": False, "generation": 1, "rotated_at": clock()}
    legacy = await sessions.create("7", data)
    keyed = RefreshSessions(sessions, grace=GRACE, clock=clock, secret_keys=[SECRET])
    token = _token(key.encode(), legacy.id, 1)
    assert generation_of((await keyed.rotate(token)).refresh_token) == 2


def test_secret_keys_are_required(sessions: SessionStore) -> None:
    with pytest.raises(TypeError, match="secret_keys"):
        RefreshSessions(sessions)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="sequence of keys"):
        RefreshSessions(sessions, secret_keys=SECRET)
    for keys in ([], (), [SECRET, ""]):
        with pytest.raises(ValueError, match="secret keys"):
            RefreshSessions(sessions, secret_keys=keys)


async def test_new_sessions_are_always_wrapped(refresh: RefreshSessions) -> None:
    grant = await refresh.start("7")
    assert grant.session.data["wrapped"] is True


async def test_a_store_that_lost_its_last_rotations_catches_up(
    refresh: RefreshSessions, sessions: SessionStore
) -> None:
    # Redis restored from a snapshot taken before the last two refreshes: the client's
    # token is newer than the store. It is ours (its MAC verifies): not a reuse.
    grant = await refresh.start("7")
    first = await refresh.rotate(grant.refresh_token)
    latest = await refresh.rotate(first.refresh_token)
    stored = await sessions.get(grant.session.id)
    assert stored is not None
    await sessions.touch(grant.session.id, {**stored.data, "generation": 1})

    caught_up = await refresh.rotate(latest.refresh_token)

    assert generation_of(caught_up.refresh_token) == 4
    after = await sessions.get(grant.session.id)
    assert after is not None
    assert after.data["generation"] == 4


class Waits:
    """Stands in for `asyncio` and `time` in `stackkit.auth.refresh`: each pause moves a
    stopped clock on by its length, and `on_pause` may act (as the other request would)."""

    def __init__(self, on_pause: dict[int, Any]) -> None:
        self.now = 100.0
        self.pauses: list[float] = []
        self.on_pause = on_pause

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.pauses.append(delay)
        self.now += delay
        action = self.on_pause.get(len(self.pauses))
        if action is not None:
            await action()


# A second request with the token whose rotation another request has claimed waits for
# that rotation to land: pauses from 2 ms, doubling up to 50 ms, for at most a second.
BACKING_OFF = [0.002, 0.004, 0.008, 0.016, 0.032]


async def waiting_rotation(
    refresh: RefreshSessions, monkeypatch: pytest.MonkeyPatch, on_pause: dict[int, Any]
) -> tuple[Waits, Any, str]:
    grant = await refresh.start("ada")
    session_id = grant.session.id
    assert await refresh._claim(session_id, 1)  # the first request is rotating it
    waits = Waits(on_pause)
    monkeypatch.setattr("stackkit.auth.refresh.asyncio", waits)
    monkeypatch.setattr("stackkit.auth.refresh.time", waits)
    return waits, grant, session_id


async def test_a_rotation_under_way_is_waited_for(
    refresh: RefreshSessions, sessions: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def land() -> None:  # the first request writes the next generation
        await sessions.touch(session_id, {**grant.session.data, "generation": 2})

    waits, grant, session_id = await waiting_rotation(refresh, monkeypatch, {3: land})
    second = await refresh.rotate(grant.refresh_token)
    assert generation_of(second.refresh_token) == 2
    assert int(second.session.data["generation"]) == 2
    assert waits.pauses == BACKING_OFF[:3]


async def test_a_rotation_that_never_lands_is_given_up_after_a_second(
    refresh: RefreshSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits, grant, _ = await waiting_rotation(refresh, monkeypatch, {})
    with pytest.raises(
        InvalidRefreshToken, match=r"^A refresh of this token is under way; retry\.$"
    ):
        await refresh.rotate(grant.refresh_token)
    assert waits.pauses == BACKING_OFF + [0.05] * 19  # just over a second in all
    assert 1.0 < sum(waits.pauses) < 1.05


async def test_a_session_ended_while_waiting_is_said_so(
    refresh: RefreshSessions, sessions: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def end() -> None:
        await sessions.revoke(session_id)

    waits, grant, session_id = await waiting_rotation(refresh, monkeypatch, {2: end})
    with pytest.raises(InvalidRefreshToken, match=r"^The session has ended\.$"):
        await refresh.rotate(grant.refresh_token)
    assert waits.pauses == BACKING_OFF[:2]


@pytest.mark.parametrize("grace", [0.5, 1])
async def test_a_grace_under_two_seconds_still_counts(
    sessions: SessionStore, clock: Clock, grace: float
) -> None:
    refresh = RefreshSessions(sessions, grace=grace, clock=clock, secret_keys=[SECRET])
    first = await refresh.start("42")
    second = await refresh.rotate(first.refresh_token)
    clock.now += grace / 2
    assert (await refresh.rotate(first.refresh_token)).refresh_token == second.refresh_token


async def test_the_claim_on_a_rotation_expires_a_minute_after_the_grace(
    refresh: RefreshSessions, store: Store
) -> None:
    grant = await refresh.start("42")
    await refresh.rotate(grant.refresh_token)
    expires_in = await store.expires_in(refresh._claim_key(grant.session.id, 1))
    assert expires_in is not None
    assert GRACE + 59 < expires_in <= GRACE + 60


async def _refusal(refresh: RefreshSessions, token: str) -> tuple[str, str]:
    with pytest.raises(InvalidRefreshToken) as raised:
        await refresh.rotate(token)
    return type(raised.value).__name__, str(raised.value)


async def test_each_refusal_of_a_refresh_token_says_why(
    refresh: RefreshSessions, sessions: SessionStore
) -> None:
    grant = await refresh.start("42")
    invalid = ("InvalidRefreshToken", "The refresh token is not valid.")
    assert await _refusal(refresh, "not-a-token") == invalid
    assert await _refusal(refresh, with_other_char(grant.refresh_token, -1)) == invalid
    gone = grant.refresh_token.replace(grant.session.id, "x" * len(grant.session.id), 1)
    assert await _refusal(refresh, gone) == (
        "InvalidRefreshToken",
        "The session has expired or was revoked.",
    )
    spent = grant.refresh_token
    await refresh.rotate(spent)
    await refresh.rotate((await refresh.rotate(spent)).refresh_token)  # two generations on
    assert await _refusal(refresh, spent) == (
        "RefreshTokenReused",
        "A spent refresh token was used again; the session has ended.",
    )


async def test_a_session_that_ends_during_its_rotation_is_refused(
    refresh: RefreshSessions, sessions: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant = await refresh.start("42")

    async def ended(session_id: str, data: Any = None) -> None:
        await sessions.revoke(session_id)  # logged out from another device meanwhile

    monkeypatch.setattr(sessions, "touch", ended)
    assert await _refusal(refresh, grant.refresh_token) == (
        "InvalidRefreshToken",
        "The session has ended.",
    )


async def test_a_failed_rotation_raises_its_own_error_even_if_the_cleanup_fails(
    refresh: RefreshSessions, sessions: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant = await refresh.start("42")

    async def unavailable(session_id: str, data: Any = None) -> None:
        raise StoreUnavailable("the store went away")

    async def cleanup_fails(*keys: str) -> int:
        raise ConnectionError("and is still away")

    monkeypatch.setattr(sessions, "touch", unavailable)
    monkeypatch.setattr(sessions.store, "delete", cleanup_fails)
    with pytest.raises(StoreUnavailable, match="the store went away"):
        await refresh.rotate(grant.refresh_token)


async def test_a_refresh_token_is_its_session_generation_and_their_mac(
    refresh: RefreshSessions,
) -> None:
    """The format tokens already issued carry. The MAC key is the session's own random
    key (32 bytes) wrapped by a key derived from the secret: the secret alone, or the
    store alone, forges nothing."""
    grant = await refresh.start("42")
    session_id, generation, mac = grant.refresh_token.split(".")
    stored = grant.session.data["key"]
    assert len(base64.urlsafe_b64decode(stored + "=")) == 32
    pepper = hmac.new(SECRET.encode(), b"stackkit refresh tokens", hashlib.sha256).digest()
    key = hmac.new(pepper, stored.encode(), hashlib.sha256).digest()
    digest = hmac.new(key, f"{session_id}.1".encode(), hashlib.sha256).digest()
    assert (session_id, generation) == (grant.session.id, "1")
    assert mac == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_a_mac_does_not_carry_over_to_another_generation(
    refresh: RefreshSessions, sessions: SessionStore
) -> None:
    grant = await refresh.start("42")
    session_id, _, mac = grant.refresh_token.split(".")
    for generation in (0, 2, 3):
        with pytest.raises(InvalidRefreshToken, match="not valid"):
            await refresh.rotate(f"{session_id}.{generation}.{mac}")
    assert await sessions.get(session_id) is not None
    assert generation_of((await refresh.rotate(grant.refresh_token)).refresh_token) == 2
