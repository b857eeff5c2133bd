from __future__ import annotations

import pytest

from stackkit.auth.api import SessionPath
from stackkit.cache import MemoryStore, Session, SessionStore, Store, StoreUnavailable
from tests.helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(store: Store, clock: Clock) -> SessionStore:
    return SessionStore(store, ttl=3600, max_lifetime=4 * 3600, clock=clock)


async def test_create_and_get(sessions: SessionStore, clock: Clock) -> None:
    created = await sessions.create("42", {"device": "laptop"})
    fetched = await sessions.get(created.id)
    assert fetched == created
    assert created.user_id == "42"
    assert created.expires_at == clock.now + 3600
    assert created.max_expires_at == clock.now + 4 * 3600
    assert len(created.id) >= 32
    assert await sessions.get("no-such-session") is None


async def test_session_expires_without_touch(sessions: SessionStore, clock: Clock) -> None:
    session = await sessions.create("42")
    clock.now += 3601
    assert await sessions.get(session.id) is None
    assert await sessions.touch(session.id) is None


async def test_touch_slides_expiry_up_to_the_maximum_lifetime(
    sessions: SessionStore, clock: Clock
) -> None:
    session = await sessions.create("42")
    for _ in range(3):
        clock.now += 3000
        touched = await sessions.touch(session.id, {"generation": 2})
        assert touched is not None
        assert touched.expires_at == clock.now + 3600
        assert touched.data == {"generation": 2}
    clock.now += 3000  # 12,000 s in: the next touch may only reach the 14,400 s cap
    capped = await sessions.touch(session.id)
    assert capped is not None
    assert capped.expires_at == session.max_expires_at
    clock.now = session.max_expires_at + 1
    assert await sessions.get(session.id) is None


async def test_revoke_one(sessions: SessionStore) -> None:
    first = await sessions.create("42")
    second = await sessions.create("42")
    assert await sessions.is_alive(first.id)
    assert await sessions.is_alive(first.id, "42")
    assert not await sessions.is_alive(first.id, "43")  # not that user's
    assert await sessions.revoke(first.id)
    assert not await sessions.revoke(first.id)
    assert await sessions.get(first.id) is None
    assert not await sessions.is_alive(first.id)
    assert await sessions.touch(first.id) is None  # a revoked session stays revoked
    assert [s.id for s in await sessions.list("42")] == [second.id]


async def test_a_session_whose_owner_was_checked_still_ends_at_once(
    sessions: SessionStore,
) -> None:
    session = await sessions.create("42")
    assert await sessions.is_alive(session.id, "42")  # its value decoded, and remembered
    assert not await sessions.is_alive(session.id, "43")
    await sessions.revoke(session.id)
    assert not await sessions.is_alive(session.id, "42")


async def test_the_owners_remembered_are_bounded(
    sessions: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("stackkit.auth.sessions._OWNERS_KEPT", 2)
    created = [await sessions.create(str(n)) for n in range(5)]
    for n, session in enumerate(created):
        assert await sessions.is_alive(session.id, str(n))
        assert not await sessions.is_alive(session.id, "someone else")
    assert len(sessions._owners) == 2


async def test_list_and_revoke_all_of_a_user(sessions: SessionStore, clock: Clock) -> None:
    mine = [await sessions.create("42") for _ in range(3)]
    theirs = await sessions.create("7")
    clock.now += 10
    await sessions.touch(mine[0].id)  # now the latest to expire
    listed = [s.id for s in await sessions.list("42")]
    assert listed == [*sorted([mine[1].id, mine[2].id]), mine[0].id]
    assert await sessions.revoke_all("42") == 3
    assert await sessions.list("42") == []
    assert all([await sessions.get(s.id) is None for s in mine])
    assert await sessions.get(theirs.id) == theirs


async def test_expired_sessions_leave_the_list(sessions: SessionStore, clock: Clock) -> None:
    old = await sessions.create("42")
    clock.now += 3000
    new = await sessions.create("42")
    clock.now += 1000  # old has expired, new has not
    assert [s.id for s in await sessions.list("42")] == [new.id]
    assert old.id != new.id


def test_ttl_must_not_exceed_the_maximum_lifetime(store: Store) -> None:
    with pytest.raises(ValueError, match="ttl <= max_lifetime"):
        SessionStore(store, ttl=100, max_lifetime=50)


async def test_by_default_a_session_lives_a_day_past_its_last_touch_and_30_days_at_most(
    store: Store, clock: Clock
) -> None:
    sessions = SessionStore(store, clock=clock)
    session = await sessions.create("42")
    clock.now += 86_399
    assert await sessions.get(session.id) is not None
    clock.now += 2
    assert await sessions.get(session.id) is None  # a day without a touch: gone
    session = await sessions.create("42")
    ends = session.created_at + 30 * 86_400
    touched_until = session.expires_at
    while clock.now + 23 * 3600 < ends:  # a touch every 23 hours, for 30 days
        clock.now += 23 * 3600
        touched = await sessions.touch(session.id)
        assert touched is not None
        touched_until = touched.expires_at
        assert touched_until == min(clock.now + 86_400, ends)
    assert touched_until == ends
    clock.now = ends + 1
    assert await sessions.get(session.id) is None  # touched all along, and still ended


async def test_a_session_revoked_while_it_is_touched_stays_revoked(
    sessions: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await sessions.create("42")
    read = sessions.get

    async def read_then_revoked_meanwhile(session_id: str) -> Session | None:
        found = await read(session_id)  # touch has read the session...
        monkeypatch.setattr(sessions, "get", read)
        assert await sessions.revoke(session_id)  # ...and a sign-out ends it before the write
        return found

    monkeypatch.setattr(sessions, "get", read_then_revoked_meanwhile)
    assert await sessions.touch(session.id, {"generation": 2}) is None
    assert await sessions.get(session.id) is None
    assert not await sessions.is_alive(session.id)
    assert await sessions.list("42") == []


async def test_a_session_is_never_stored_without_its_index(clock: Clock) -> None:
    class IndexWriteFails(MemoryStore):
        async def index_add(self, index: str, member: str, *, expires_at: float) -> None:
            raise StoreUnavailable("the index write did not get through")

    store = IndexWriteFails()
    sessions = SessionStore(store, clock=clock)
    with pytest.raises(StoreUnavailable):
        await sessions.create("42")
    # Had the session been written first, it would be there, and unknown to the index
    # that revoke_all reads: log out everywhere would miss it.
    assert len(store) == 0


@pytest.mark.parametrize(
    ("user_id", "tagged"),
    [
        ("42", True),
        ("user_7-b", True),
        ("x" * 64, True),
        ("x" * 65, False),  # too long for a path or a token
        ("", False),
        ("a.b", False),  # would split a refresh token
        ("a~b", False),  # would split the id
        ("a/b", False),
        ("{x}", False),  # would move the hash tag
        ("a b", False),
        ("é", False),
    ],
)
async def test_a_session_is_kept_in_its_users_hash_tag_when_its_id_can_name_the_user(
    sessions: SessionStore, user_id: str, tagged: bool
) -> None:
    """On a Redis Cluster, the session then lives in the slot of its user's index and
    rate-limit counters (`{user:<id>}`); a session of another id, like every session
    made before, keeps the key it always had."""
    session = await sessions.create(user_id)
    random_part = session.id.removeprefix(f"{user_id}~") if tagged else session.id
    assert len(random_part) == 32
    assert "~" not in random_part
    if tagged:
        assert session.id == f"{user_id}~{random_part}"
        assert SessionStore.key(session.id) == f"session:{{user:{user_id}}}:{random_part}"
    else:
        assert SessionStore.key(session.id) == f"session:{{{session.id}}}"
    assert SessionPath(id=session.id).id == session.id  # `DELETE /api/auth/sessions/{id}`
    assert await sessions.is_alive(session.id, user_id)
    assert [s.id for s in await sessions.list(user_id)] == [session.id]
    assert await sessions.revoke(session.id)
    assert not await sessions.is_alive(session.id, user_id)
