"""Emails: `normalize_email`, and every way an email comes in going through it (the
API, the admins' filter, `UserService`), so that look-alike addresses are one
account or refused, never a second account."""

# Look-alike letters (fullwidth, ...) are what these tests are about.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert
from starlette.testclient import TestClient

from stackkit import ValidationProblem
from stackkit.auth import AuthConfig, InvalidEmail, MemoryMailBackend, UserService, normalize_email
from stackkit.auth.emails import (
    MAX_EMAIL_LENGTH,
    MAX_LOCAL_PART_LENGTH,
    EmailFix,
    plan_email_fixes,
)
from stackkit.auth.user import User
from stackkit.db import ConflictError, Database, Model
from tests.auth.conftest import FAST_HASHER, PASSWORD, bearer, login, register

# Every format character the issue names, and a few more of category Cf.
INVISIBLE = [
    *map(chr, range(0x200B, 0x2010)),  # zero-width space, (non-)joiner, LRM, RLM
    *map(chr, range(0x202A, 0x202F)),  # LRE, RLE, PDF, LRO, RLO
    *map(chr, range(0x2066, 0x206A)),  # LRI, RLI, FSI, PDI
    "\u2060",  # word joiner
    "\ufeff",  # zero-width no-break space (BOM)
    "\u00ad",  # soft hyphen
]


def fullwidth(char: str) -> str:
    return chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char


# normalize_email


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("  Ada@Example.COM\t", "ada@example.com"),
        ("ＡＤＡ@example.com", "ada@example.com"),
        ("ＡＤＡ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ada@example.com"),
        ("\u3000ada@example.com\u00a0", "ada@example.com"),
        ("\u212aelvin@example.com", "kelvin@example.com"),
        ("\ufb01nn@example.com", "finn@example.com"),
        ("Straße@Example.de", "straße@example.de"),
        ("ÉLODIE@EXAMPLE.FR", "élodie@example.fr"),
        ("E\u0301lodie@example.fr", "élodie@example.fr"),
    ],
    ids=["case-and-spaces", "fullwidth-local", "fullwidth-all", "unicode-spaces-around",
         "kelvin-sign", "ligature", "sharp-s-kept", "accented", "combining-accent"],
)  # fmt: skip
def test_normalize_email_gives_one_form(given: str, expected: str) -> None:
    assert normalize_email(given) == expected
    assert normalize_email(expected) == expected


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_normalize_email_refuses_invisible_and_bidi_characters(char: str) -> None:
    for where in (0, 3, len("ada@example.com")):
        email = "ada@example.com"
        with pytest.raises(InvalidEmail, match=f"U\\+{ord(char):04X}"):
            normalize_email(email[:where] + char + email[where:])


@pytest.mark.parametrize(
    "email",
    ["ada\x00@example.com", "ada\x7f@example.com", "a\u0085da@example.com",
     "a da@example.com", "a\u00a0da@example.com", "a\u2028da@example.com",
     "ada\ue000@example.com", "ada\ud800@example.com", "ada\U000e0001@example.com"],
    ids=["nul", "del", "nel", "space", "nbsp-inside", "line-separator",
         "private-use", "surrogate", "tag-character"],
)  # fmt: skip
def test_normalize_email_refuses_controls_spaces_and_odd_code_points(email: str) -> None:
    with pytest.raises(InvalidEmail, match="cannot contain"):
        normalize_email(email)


@pytest.mark.parametrize(
    "email",
    ["ada", "ada@", "@example.com", "ada@example", "ada@example.", "ada@example..",
     "ada@.com", "a@b@example.com"],
)  # fmt: skip
def test_normalize_email_refuses_what_is_not_an_address(email: str) -> None:
    message = "An email address needs one @ and a domain with a dot in it."
    with pytest.raises(InvalidEmail, match=f"^{re.escape(message)}$"):
        normalize_email(email)


def test_normalize_email_holds_rfc_5321_lengths_in_octets() -> None:
    domain = "@example.com"
    assert normalize_email("a" * MAX_LOCAL_PART_LENGTH + domain)
    with pytest.raises(InvalidEmail, match="64 bytes"):
        normalize_email("a" * (MAX_LOCAL_PART_LENGTH + 1) + domain)
    # 32 two-octet letters are 64 octets; one more is too many.
    assert normalize_email("é" * 32 + domain)
    with pytest.raises(InvalidEmail, match="64 bytes"):
        normalize_email("é" * 33 + domain)
    # Counted after normalisation: 64 fullwidth letters are 64 ASCII ones.
    assert normalize_email("Ａ" * 64 + domain) == "a" * 64 + domain
    longest = "a@" + "b" * (MAX_EMAIL_LENGTH - len("a@.com")) + ".com"
    assert len(normalize_email(longest)) == MAX_EMAIL_LENGTH
    with pytest.raises(InvalidEmail, match="254 bytes"):
        normalize_email("a@b" + longest[2:])


def test_a_partial_email_is_folded_but_not_held_to_the_shape() -> None:
    assert normalize_email(" ＥＸＡＭＰＬＥ ", partial=True) == "example"
    assert normalize_email("", partial=True) == ""
    with pytest.raises(InvalidEmail):
        normalize_email("exa\u200bmple", partial=True)


# Properties

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20)
DOMAIN = st.from_regex(r"[a-z0-9]{1,12}\.(com|org|example)", fullmatch=True)
ADDRESSES = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)


@st.composite
def look_alike(draw: st.DrawFn, address: str) -> tuple[str, bool]:
    """A variant of `address` that looks the same on screen (other case, fullwidth
    letters, invisible characters, spaces around), and whether it holds an
    invisible character."""
    chars = [
        draw(st.sampled_from([char, char.upper(), fullwidth(char), fullwidth(char.upper())]))
        for char in address
    ]
    inserted = draw(st.lists(st.sampled_from(INVISIBLE), max_size=3))
    for char in inserted:
        chars.insert(draw(st.integers(0, len(chars))), char)
    spaces = st.sampled_from(["", " ", "\t", "\u3000", "\u00a0"])
    return draw(spaces) + "".join(chars) + draw(spaces), bool(inserted)


@given(data=st.data())
def test_look_alikes_normalise_to_the_same_address_or_are_refused(data: st.DataObject) -> None:
    address = data.draw(ADDRESSES, label="address")
    variant, invisible = data.draw(look_alike(address), label="variant")
    if invisible:
        with pytest.raises(InvalidEmail):
            normalize_email(variant)
    else:
        assert normalize_email(variant) == address


@given(st.text(max_size=80))
def test_the_normal_form_is_stable_and_holds_no_refused_character(text: str) -> None:
    try:
        normal = normalize_email(text, partial=True)
    except InvalidEmail:
        return
    assert normalize_email(normal, partial=True) == normal
    assert unicodedata.is_normalized("NFKC", normal)
    assert not any(unicodedata.category(c)[0] in "CZ" for c in normal)


# The API


def test_register_refuses_a_look_alike_of_a_taken_email(client: TestClient) -> None:
    register(client, "ada@example.com")
    for look_alike_email in ("Ada@Example.com", "ＡＤＡ@example.com", " ada@ｅｘａｍｐｌｅ.com "):
        response = client.post(
            "/api/auth/register", json={"email": look_alike_email, "password": PASSWORD}
        )
        assert response.status_code == 409, look_alike_email
        assert response.json()["field"] == "email"


@pytest.mark.parametrize(
    "email",
    ["ada@example.com\u200b", "\u202eada@example.com", "a\u2066da@example.com",
     "ada\ufeff@example.com", "a" * 65 + "@example.com"],
    ids=["zero-width-space", "right-to-left-override", "isolate", "bom", "local-part-too-long"],
)  # fmt: skip
def test_register_refuses_invisible_characters_with_a_422_naming_the_field(
    client: TestClient, email: str
) -> None:
    response = client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["in"], error["field"]) == ("body", "email")


def test_login_finds_the_account_from_any_look_alike(client: TestClient) -> None:
    user = register(client, "Ada@Example.com")
    assert user["email"] == "ada@example.com"
    for email in ("ADA@EXAMPLE.COM", "ＡＤＡ@example.com", "\u3000ada@example.com"):
        me = client.get("/api/auth/me", headers=bearer(login(client, email)))
        assert me.json()["id"] == user["id"]
    response = client.post(
        "/api/auth/login", json={"email": "ada\u200b@example.com", "password": PASSWORD}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"


def test_password_reset_of_a_look_alike_mails_the_stored_address(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    register(client, "ada@example.com")
    response = client.post("/api/auth/password-reset", json={"email": "ＡＤＡ@Example.com"})
    assert response.status_code == 202
    assert [message.to for message in mail.outbox] == ["ada@example.com"]
    response = client.post("/api/auth/password-reset", json={"email": "ada@example.com\u202e"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"


def _service(client: TestClient) -> UserService[Any]:
    app: Any = client.app
    return app.state.auth.users(app.state.database)


def test_the_admins_email_filter_is_normalised(client: TestClient) -> None:
    assert client.portal is not None
    client.portal.call(lambda: _service(client).register("admin@example.com", PASSWORD,
                                                         roles=["admin"]))  # fmt: skip
    register(client, "ada@example.com")
    headers = bearer(login(client, "admin@example.com"))

    def emails(query: str) -> Any:
        response = client.get("/api/auth/users", params={"email": query}, headers=headers)
        return response.status_code, [user["email"] for user in response.json().get("items", [])]

    assert emails("ＡＤＡ") == (200, ["ada@example.com"])
    assert emails(" Ada@EXAMPLE ") == (200, ["ada@example.com"])
    status, _ = emails("ada\u200b")
    assert status == 422
    response = client.get("/api/auth/users", params={"email": "ada\u202e"}, headers=headers)
    assert response.json()["errors"][0]["field"] == "email"


LENIENT = AuthConfig(
    User,
    register_limit="100000/minute",
    login_limit_per_address="100000/minute",
    login_limit_per_account="100000/minute",
)


@pytest.fixture
def lenient_client(make_auth_client: Callable[..., TestClient]) -> TestClient:
    """An app whose sign-in and registration limits stay out of the way."""
    return make_auth_client(config=LENIENT)


@settings(
    max_examples=40,
    deadline=None,
    # One app for every example, on purpose: the accounts pile up across them.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_look_alike_is_the_same_account_or_refused_never_a_second_one(
    lenient_client: TestClient, data: st.DataObject
) -> None:
    client = lenient_client
    address = data.draw(ADDRESSES, label="address")
    variant, _ = data.draw(look_alike(address), label="variant")
    first = client.post("/api/auth/register", json={"email": address, "password": PASSWORD})
    assert first.status_code in (201, 409), first.text  # 409: an earlier example's
    me = client.get("/api/auth/me", headers=bearer(login(client, address))).json()

    again = client.post("/api/auth/register", json={"email": variant, "password": PASSWORD})

    assert again.status_code in (409, 422), again.text
    if again.status_code == 422:
        assert again.json()["errors"][0]["field"] == "email"
    else:
        assert again.json()["field"] == "email"
        signed_in = client.get("/api/auth/me", headers=bearer(login(client, variant)))
        assert signed_in.json()["id"] == me["id"]
    assert client.portal is not None
    accounts = client.portal.call(lambda: _service(client).count({"email": address}))
    assert accounts == 1


# UserService, and rows stored before the rule


@pytest.fixture
async def users_db(db: Database) -> AsyncIterator[Database]:
    async with db.engine.begin() as connection:
        await connection.run_sync(Model.metadata.create_all, tables=[User.__table__])
    yield db
    async with db.engine.begin() as connection:
        await connection.run_sync(Model.metadata.drop_all, tables=[User.__table__])


def _users(db: Database) -> UserService[Any]:
    return UserService.for_model(User)(db, hasher=FAST_HASHER)


async def test_the_service_normalises_and_refuses_as_the_api_does(users_db: Database) -> None:
    users = _users(users_db)
    user = await users.register("ＡＤＡ@Example.com", PASSWORD)
    assert user.email == "ada@example.com"
    with pytest.raises(ConflictError):
        await users.register("ada@EXAMPLE.com ", PASSWORD)
    with pytest.raises(ValidationProblem) as problem:
        await users.register("eve\u200b@example.com", PASSWORD)
    assert problem.value.extensions["errors"][0]["field"] == "email"
    assert (await users.get_by_email("Ａda@example.com")) is not None
    assert await users.get_by_email("ada\u200b@example.com") is None
    assert await users.authenticate("ＡＤＡ@EXAMPLE.COM", PASSWORD) is not None
    assert await users.authenticate("ada\u202e@example.com", PASSWORD) is None
    assert await users.count() == 1


async def _store_raw(db: Database, email: str) -> int:
    """A row written as an older stackkit (or SQL) did, without today's normalisation."""
    async with db.engine.begin() as connection:
        result = await connection.execute(
            insert(User.__table__)
            .values(email=email, password_hash="x", roles=[])
            .returning(User.__table__.c.id)
        )
        return int(result.scalar_one())


async def test_stored_emails_out_of_the_normal_form_are_listed_and_fixed(
    users_db: Database,
) -> None:
    users = _users(users_db)
    normal = (await users.register("ada@example.com", PASSWORD)).id
    fullwidth_id = await _store_raw(users_db, "ｂｏｂ@example.com")
    upper_id = await _store_raw(users_db, "Carol@Example.com")
    look_alike_id = await _store_raw(users_db, "ａda@example.com")
    hidden_id = await _store_raw(users_db, "eve\u200b@example.com")
    assert await users.get_by_email("bob@example.com") is None  # not found until fixed

    fixes = await users.email_fixes()

    assert fixes == [
        EmailFix(fullwidth_id, "ｂｏｂ@example.com", "bob@example.com"),
        EmailFix(upper_id, "Carol@Example.com", "carol@example.com"),
        EmailFix(look_alike_id, "ａda@example.com", "ada@example.com",
                 f"same normal form as user {normal}"),
        EmailFix(hidden_id, "eve\u200b@example.com", None,
                 "refused: An email address cannot contain an invisible or text-direction "
                 "character (U+200B)."),
    ]  # fmt: skip
    done = await users.fix_emails(fixes)
    assert [fix.id for fix in done] == [fullwidth_id, upper_id]
    assert (await users.get_by_email("ＢＯＢ@example.com")).id == fullwidth_id  # type: ignore[union-attr]
    assert (await users.get_by_email("carol@example.com")).id == upper_id  # type: ignore[union-attr]
    assert [fix.id for fix in await users.email_fixes()] == [look_alike_id, hidden_id]


def test_plan_email_fixes_reports_rows_that_share_a_normal_form() -> None:
    fixes = plan_email_fixes([(1, "Ada@example.com"), (2, "ＡＤＡ@example.com"), (3, "b@c.de")])
    assert fixes == [
        EmailFix(1, "Ada@example.com", "ada@example.com", "same normal form as user 2"),
        EmailFix(2, "ＡＤＡ@example.com", "ada@example.com", "same normal form as user 1"),
    ]
    assert not any(fix.fixable for fix in fixes)


def test_plan_email_fixes_goes_on_past_a_refused_email() -> None:
    rows = [(1, "no-at-sign"), (2, "Bob@Example.com"), (3, "ada@example.com"),
            (4, "ADA@example.com"), (5, "Ａda@example.com")]  # fmt: skip
    with pytest.raises(InvalidEmail) as refused:
        normalize_email("no-at-sign")
    fixes = plan_email_fixes(rows)
    assert [(fix.id, fix.normalized, fix.problem) for fix in fixes] == [
        (1, None, f"refused: {refused.value}"),
        (2, "bob@example.com", None),
        (4, "ada@example.com", "same normal form as user 3, 5"),
        (5, "ada@example.com", "same normal form as user 3, 4"),
    ]
    assert [fix.fixable for fix in fixes] == [False, True, False, False]


# What the normal form does not fold (docs/security.md, "What remains")


@pytest.mark.parametrize(
    ("address", "other"),
    [
        ("ada@example.com", "\u0430da@example.com"),  # Cyrillic small a
        ("ada@example.com", "ad\u0251@example.com"),  # Latin alpha
        ("ada@gmail.com", "ada+news@gmail.com"),
        ("ada@gmail.com", "a.da@gmail.com"),
    ],
    ids=["cyrillic-a", "latin-alpha", "plus-tag", "gmail-dot"],
)
def test_homoglyphs_and_provider_aliases_are_accounts_of_their_own(
    lenient_client: TestClient, address: str, other: str
) -> None:
    assert normalize_email(other) != normalize_email(address)
    first, second = register(lenient_client, address), register(lenient_client, other)
    assert first["id"] != second["id"]
    assert second["email"] == normalize_email(other)


def test_the_per_account_limits_count_every_form_of_an_address_as_one(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = make_auth_client(config=AuthConfig(User, login_limit_per_account="3/minute"))
    register(client, "ada@example.com")
    client.cookies.clear()
    forms = ["ADA@example.com", "ａｄａ@example.com", " Ada@Example.COM ", "ada@example.com"]
    statuses = [
        client.post("/api/auth/login", json={"email": form, "password": "wrong guess"}).status_code
        for form in forms
    ]
    assert statuses == [401, 401, 401, 429]
    other = client.post("/api/auth/login", json={"email": "bob@example.com", "password": "x"})
    assert other.status_code == 401
