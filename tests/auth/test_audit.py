"""The audit log: the auth routes record security events, users read their own at
`/api/auth/audit`, admins every one at `/api/admin/audit`; no route writes one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from stackkit import Settings, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.audit import AUDIT_EVENTS, AuditLog, audit_clean_up_job
from stackkit.auth.tables import audit_events
from stackkit.auth.user import User
from stackkit.jobs import JobQueue
from tests.auth.conftest import FAST_HASHER, PASSWORD, bearer, create_user_table, login, register
from tests.auth.test_admin_users import add_user, admin_headers

EMAIL = "ada@example.com"
BROWSER = "Mozilla/5.0 (audit test)"


def _events(client: TestClient, headers: dict[str, str], path: str, **query: Any) -> list[Any]:
    response = client.get(path, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _names(items: list[Any]) -> list[str]:
    return [item["event"] for item in items]


def test_a_users_own_events_are_recorded_with_who_where_and_when(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = make_auth_client(Settings(env="test", **service_settings))
    client.headers["User-Agent"] = BROWSER
    user = register(client)
    wrong = client.post("/api/auth/login", json={"email": EMAIL, "password": "not it at all"})
    assert wrong.status_code == 401
    first = login(client)
    second = login(client)
    changed = client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        headers=bearer(second),
    )
    assert changed.status_code == 204
    assert client.post("/api/auth/logout", headers=bearer(second)).status_code == 204
    third = login(client, password="another long passphrase")

    items = _events(client, bearer(third), "/api/auth/audit")
    assert _names(items) == [
        "signin.succeeded",
        "session.ended",
        "password.changed",
        "signin.succeeded",
        "signin.succeeded",
        "signin.failed",
        "user.registered",
    ]
    assert {item["subject_id"] for item in items} == {user["id"]}
    assert {item["address"] for item in items} == {"testclient"}
    assert {item["user_agent"] for item in items} == {BROWSER}
    assert all(item["description"] == AUDIT_EVENTS[item["event"]] for item in items)
    # A failed sign-in has no actor: nobody was signed in.
    assert [item["actor_id"] for item in items] == [user["id"]] * 5 + [None, user["id"]]
    assert items[5]["details"] == {}  # the account is the subject: no email kept
    assert items[1]["details"]["by"] == "sign-out"
    assert first["refresh_token"] != second["refresh_token"]
    times = [datetime.fromisoformat(item["created_at"]) for item in items]
    assert times == sorted(times, reverse=True)
    assert all(datetime.now(UTC) - moment < timedelta(minutes=5) for moment in times)


def test_nobody_sees_another_users_events(client: TestClient) -> None:
    register(client)
    register(client, "grace@example.com")
    mine = _events(client, bearer(login(client)), "/api/auth/audit")
    theirs = _events(client, bearer(login(client, "grace@example.com")), "/api/auth/audit")
    assert {item["subject_id"] for item in mine} != {item["subject_id"] for item in theirs}
    assert "user.registered" in _names(mine)
    assert "user.registered" in _names(theirs)
    assert not {item["id"] for item in mine} & {item["id"] for item in theirs}


def test_a_sign_in_to_an_unknown_email_keeps_the_email_for_admins(client: TestClient) -> None:
    headers = admin_headers(client)
    answer = client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "x"})
    assert answer.status_code == 401
    [failed] = _events(client, headers, "/api/admin/audit", event="signin.failed")
    assert failed["subject_id"] is None
    assert failed["details"] == {"email": "nobody@example.com"}


def test_throttled_sign_ins_and_refresh_reuse_are_recorded(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = make_auth_client(
        config=AuthConfig(User, login_limit_per_account="2/minute", refresh_grace=0)
    )
    user = register(client)
    tokens = login(client)
    body = {"refresh_token": tokens["refresh_token"]}
    assert client.post("/api/auth/refresh", json=body).status_code == 200
    client.cookies.clear()
    assert client.post("/api/auth/refresh", json=body).status_code == 401  # spent: reuse
    wrong = {"email": EMAIL, "password": "not it at all"}
    statuses = [client.post("/api/auth/login", json=wrong).status_code for _ in range(2)]
    assert statuses == [401, 429]

    admin = admin_headers(client)
    found = _events(client, admin, "/api/admin/audit", subject_id=user["id"])
    assert _names(found)[:3] == ["signin.throttled", "signin.failed", "refresh.reused"]
    reused = found[2]
    assert reused["details"]["session_id"]
    assert reused["actor_id"] is None


def test_admins_changes_to_an_account_are_recorded_with_the_admin_as_actor(
    client: TestClient,
) -> None:
    headers = admin_headers(client)
    admin_id = _events(client, headers, "/api/auth/audit")[0]["subject_id"]
    target = add_user(client, "grace@example.com")
    path = f"/api/auth/users/{target}"
    assert client.patch(path, json={"roles": ["editor"]}, headers=headers).status_code == 200
    assert client.patch(path, json={"is_active": False}, headers=headers).status_code == 200
    assert client.patch(path, json={"is_active": True}, headers=headers).status_code == 200
    assert client.delete(path, headers=headers).status_code == 204

    items = _events(client, headers, "/api/admin/audit", subject_id=target)
    assert _names(items) == ["user.deleted", "user.enabled", "user.disabled", "user.roles_changed"]
    assert {item["actor_id"] for item in items} == {admin_id}
    assert items[-1]["details"] == {"before": [], "after": ["editor"]}
    by_admin = _events(client, headers, "/api/admin/audit", actor_id=admin_id)
    assert set(_names(items)) <= set(_names(by_admin))


def test_the_admins_log_is_filtered_and_paged_by_keyset(client: TestClient) -> None:
    headers = admin_headers(client)
    for n in range(7):
        add = client.post("/api/auth/login", json={"email": f"x{n}@example.com", "password": "x"})
        assert add.status_code == 401
    seen: list[Any] = []
    cursor = None
    while True:
        query = {"event": "signin.failed,user.registered", "limit": 3}
        page = client.get(
            "/api/admin/audit", params={**query, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        ).json()  # fmt: skip
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert _names(seen).count("signin.failed") == 7
    assert set(_names(seen)) == {"signin.failed"}  # the admin was made by the service
    ids = [item["id"] for item in seen]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)

    now = datetime.now(UTC)
    later = _events(
        client, headers, "/api/admin/audit", since=(now + timedelta(hours=1)).isoformat()
    )
    assert later == []
    earlier = _events(
        client, headers, "/api/admin/audit", until=(now - timedelta(hours=1)).isoformat()
    )
    assert earlier == []
    from_here = _events(client, headers, "/api/admin/audit", address="testclient")
    assert len(from_here) >= 8
    assert _events(client, headers, "/api/admin/audit", address="192.0.2.1") == []


@pytest.mark.parametrize(
    "query",
    [
        {"event": "signin.failed,no.such.event"},
        {"since": "2026-01-01T00:00:00"},  # no time zone
        {"cursor": "0"},
        {"cursor": str(2**63)},
        {"subject_id": "-1"},
        {"limit": "1000"},
        {"address": "x" * 65},
        {"unknown": "1"},
    ],
    ids=["unknown-event", "naive-time", "cursor-0", "cursor-too-big", "negative-id",
         "limit", "long-address", "unknown-filter"],
)  # fmt: skip
def test_bad_filters_are_422_problems(client: TestClient, query: dict[str, str]) -> None:
    response = client.get("/api/admin/audit", params=query, headers=admin_headers(client))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_only_admins_read_the_whole_log(client: TestClient) -> None:
    register(client)
    assert client.get("/api/admin/audit").status_code == 401
    assert client.get("/api/auth/audit").status_code == 401
    assert client.get("/api/admin/audit", headers=bearer(login(client))).status_code == 403


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/api/admin/audit", "/api/auth/audit", "/api/admin/audit/1"])
def test_no_route_writes_changes_or_deletes_an_event(
    client: TestClient, method: str, path: str
) -> None:
    headers = admin_headers(client)
    before = _events(client, headers, "/api/admin/audit")
    body = {"event": "signin.succeeded", "subject_id": 1, "id": before[0]["id"]}
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code in (404, 405), response.text
    assert _events(client, headers, "/api/admin/audit") == before


def test_an_app_whose_audit_table_is_missing_still_signs_in_and_logs_the_event(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def user_table_only(app: Starlette) -> None:
        async with app.state.database.engine.begin() as connection:
            await connection.run_sync(User.metadata.create_all, tables=[User.__table__])

    app = create_app(
        Settings(env="test", database_url="sqlite:///:memory:"),
        auth=AuthConfig(User, hasher=FAST_HASHER),
        startup=[user_table_only],
    )
    # create_app gave the `stackkit` loggers a handler of their own, which does not pass
    # records on to the root, where caplog listens: caplog listens to this logger alone.
    audit_logger = logging.getLogger("stackkit.auth.audit")
    monkeypatch.setattr(audit_logger, "propagate", False)
    audit_logger.addHandler(caplog.handler)
    try:
        with TestClient(app, base_url="https://testserver") as client:
            register(client)
            login(client)
    finally:
        audit_logger.removeHandler(caplog.handler)
    stored = [r.getMessage() for r in caplog.records if r.name == "stackkit.auth.audit"]
    assert len(stored) == 2
    assert all(message.startswith("Audit event not stored") for message in stored)
    assert '"event": "signin.succeeded"' in stored[1]


def test_old_events_are_deleted_by_the_daily_job(tmp_path: Any) -> None:
    jobs = JobQueue(requeue_every=None, clean_up_every=None)
    settings = Settings(
        env="test", database_url=f"sqlite:///{tmp_path / 'app.db'}", audit_retention_days=30
    )
    app = create_app(
        settings, auth=AuthConfig(User, hasher=FAST_HASHER), jobs=jobs, startup=[create_user_table]
    )
    with TestClient(app, base_url="https://testserver") as client:
        register(client)
        register(client, "grace@example.com")
        database = app.state.database
        log = AuditLog(database)

        async def age_the_first() -> None:
            async with database.session() as session:
                old = datetime.now(UTC) - timedelta(days=31)
                await session.execute(
                    update(audit_events)
                    .where(audit_events.c.subject_id == 1)
                    .values(created_at=old)
                )

        assert client.portal is not None
        client.portal.call(age_the_first)
        job = audit_clean_up_job(jobs)
        assert job is audit_clean_up_job(jobs)  # declared once per queue
        client.portal.call(lambda: job.defer(timestamp=0))
        client.portal.call(jobs.run_pending)
        left = client.portal.call(lambda: log.page())
    assert [entry.subject_id for entry in left] == [2]


async def test_unknown_events_are_refused_when_recorded() -> None:
    with pytest.raises(ValueError, match="unknown audit event"):
        await AuditLog(None).record("made.up", subject_id=1)  # type: ignore[arg-type]


def test_anonymous_callers_write_no_more_events_than_their_limits_allow(
    make_auth_client: Callable[..., TestClient],
) -> None:
    config = AuthConfig(User, login_limit_per_address="3/minute", refresh_grace=0)
    client = make_auth_client(config=config)
    register(client)
    tokens = login(client)
    body = {"refresh_token": tokens["refresh_token"]}
    assert client.post("/api/auth/refresh", json=body).status_code == 200
    client.cookies.clear()
    reused = [client.post("/api/auth/refresh", json=body).status_code for _ in range(5)]
    assert reused == [401] * 5
    wrong = {"email": "nobody@example.com", "password": "x"}
    statuses = [client.post("/api/auth/login", json=wrong).status_code for _ in range(10)]
    assert statuses == [401, 401] + [429] * 8  # the sign-in above spent one of three

    log = AuditLog(client.app.state.database)  # type: ignore[attr-defined]
    assert client.portal is not None
    entries = client.portal.call(lambda: log.page(limit=100))
    counted = _names([vars(entry) for entry in entries])
    assert counted.count("refresh.reused") == 1  # the session ended with the first reuse
    assert counted.count("signin.failed") == 2
    assert counted.count("signin.throttled") == 0  # refused before the handler: no row
