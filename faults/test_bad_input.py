"""Bad input: each a clear 4xx (a problem+json from the app), never a 5xx, nothing stored.

What the app answers, as found by these drills (SQLite, `stackkit run`):

- a body over `STACKKIT_MAX_BODY_SIZE` (1 MiB): 413, whether its length is declared,
  declared larger than what follows, or not declared at all (chunked);
- a body shorter than its `Content-Length` claims too little: the rest is read as the
  next request, which uvicorn refuses with a plain-text 400;
- malformed JSON, invalid UTF-8 in JSON, a lone surrogate escape (`\\ud800`): 400;
  an empty body where JSON is required: 422;
- a body that is not JSON (text/plain, a form): 415;
- raw (not percent-encoded) bytes outside ASCII in the target: uvicorn's plain-text 400,
  before the app; percent-encoded invalid UTF-8: 422 on a typed parameter, else a
  clean answer (it decodes to U+FFFD).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from e2e.server import GeneratedAppServer
from faults.client import Answer, Client
from faults.conftest import ServerLog

MAX_BODY_SIZE = 1_048_576
"""`STACKKIT_MAX_BODY_SIZE`'s default (src/stackkit/settings.py), which the project keeps."""
NOTES = "/api/notes"
JSON = {"Content-Type": "application/json"}


def assert_problem(answer: Answer, *statuses: int) -> None:
    assert answer.status in statuses, (answer.status, answer.body[:500])
    assert answer.content_type == "application/problem+json", answer.headers
    problem = answer.json()
    assert problem["status"] == answer.status
    assert problem["title"]


def oversized_note() -> bytes:
    return json.dumps({"title": "big", "body": "x" * (MAX_BODY_SIZE + 1)}).encode()


def test_an_oversized_body_with_its_length_is_refused(
    user_client: Client, note_count: Callable[[], int]
) -> None:
    before = note_count()
    answer = user_client.send("POST", NOTES, body=oversized_note(), headers=JSON)
    assert_problem(answer, 413)
    assert answer.json()["max_bytes"] == MAX_BODY_SIZE
    assert note_count() == before


def test_an_oversized_body_sent_chunked_is_refused(
    user_client: Client, note_count: Callable[[], int]
) -> None:
    before = note_count()
    body = oversized_note()
    chunks = [body[i : i + 65_536] for i in range(0, len(body), 65_536)]
    answer = user_client.send_chunked("POST", NOTES, chunks, headers=JSON)
    assert_problem(answer, 413)
    assert note_count() == before


def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    user_client: Client, note_count: Callable[[], int]
) -> None:
    before = note_count()
    # Claims more than it sends: the app must answer without waiting for the rest.
    headers = {**JSON, "Content-Length": str(MAX_BODY_SIZE + 1)}
    answer = user_client.send("POST", NOTES, body=b'{"title": "short"}', headers=headers)
    assert_problem(answer, 413)
    assert note_count() == before


def test_a_body_longer_than_its_declared_length_is_a_client_error(
    user_client: Client, note_count: Callable[[], int]
) -> None:
    before = note_count()
    body = json.dumps({"title": "smuggled"}).encode() + b"\r\n" + oversized_note()
    answer = user_client.send("POST", NOTES, body=body, headers={**JSON, "Content-Length": "5"})
    assert 400 <= answer.status < 500, (answer.status, answer.body[:500])
    assert note_count() == before


def test_the_rest_of_a_body_longer_than_its_length_is_refused_as_the_next_request(
    user_client: Client, note_count: Callable[[], int]
) -> None:
    before = note_count()
    body = json.dumps({"title": "smuggled"}).encode() + b"\r\n" + oversized_note()
    headers = {**JSON, "Content-Length": "5", "Connection": "keep-alive"}
    answers = user_client.exchange_all(user_client.head("POST", NOTES, headers) + body)
    # What follows the 5 bytes is read as a request of its own, which uvicorn refuses
    # before the app sees it: plain text, no request id of the app's. Whatever the app
    # answered the first 5 bytes (a 400 problem, if it had time to), nothing else.
    last = answers[-1]
    assert last.status == 400, [(a.status, a.body[:200]) for a in answers]
    assert last.content_type == "text/plain", last.headers
    assert last.header("x-request-id") is None, last.headers
    for first in answers[:-1]:
        assert_problem(first, 400)
    assert note_count() == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"title": ', 400),
        (b'{"title": "a",}', 400),
        (b"[1, 2", 400),
        (b"nope", 400),
        (b'{"title": "\xff\xfe"}', 400),
        # No body at all is no syntax error: a required body is missing.
        (b"", 422),
    ],
    ids=["truncated", "trailing-comma", "unclosed-array", "not-json", "invalid-utf8", "empty"],
)
def test_malformed_json_is_a_client_error(
    user_client: Client, note_count: Callable[[], int], body: bytes, status: int
) -> None:
    before = note_count()
    answer = user_client.send("POST", NOTES, body=body, headers=JSON)
    # The app tells a body it cannot parse (400) from one that fails validation (422).
    assert_problem(answer, status)
    assert note_count() == before


def test_json_of_the_wrong_shape_is_422(user_client: Client, note_count: Callable[[], int]) -> None:
    before = note_count()
    answer = user_client.send("POST", NOTES, json=[{"title": "in a list"}])
    assert_problem(answer, 422)
    answer = user_client.send("POST", NOTES, json={"title": 12, "done": "maybe"})
    assert_problem(answer, 422)
    assert note_count() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"title": "as text"}'),
        ("application/x-www-form-urlencoded", b"title=as+a+form"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="title"'
         b"\r\n\r\nas multipart\r\n--x--\r\n"),
        (None, b'{"title": "no content type"}'),
    ],
    ids=["text-plain", "form", "multipart", "none"],
)  # fmt: skip
def test_a_body_that_is_not_json_is_415(
    user_client: Client, note_count: Callable[[], int], content_type: str | None, body: bytes
) -> None:
    before = note_count()
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = user_client.send("POST", NOTES, body=body, headers=headers)
    assert_problem(answer, 415)
    assert answer.header("accept") == "application/json"
    assert note_count() == before


@pytest.mark.parametrize(
    "query",
    [
        "title=" + "a" * 60_000,
        "q=" + "a" * 60_000,
        "&".join(["limit=5"] * 1000),
        "&".join(["title=x"] * 1000),
        "&".join(["sort=title"] * 1000),
        "&".join(f"p{n}=1" for n in range(1000)),
    ],
    ids=["huge-filter", "huge-unknown", "limit-x1000", "filter-x1000", "sort-x1000", "1000-names"],
)
def test_huge_and_repeated_query_strings_are_never_a_server_error(
    user_client: Client, query: str
) -> None:
    answer = user_client.send("GET", f"{NOTES}?{query}")
    assert answer.status in (200, 422), (answer.status, answer.body[:500])
    if answer.status == 422:
        assert_problem(answer, 422)
    else:
        assert isinstance(answer.json()["items"], list)


@pytest.mark.parametrize(
    ("query", "status"),
    [("limit=%ff", 422), ("cursor=%ff%fe", 422), ("sort=%c0%af", 422), ("title=%ff%fe", 200)],
    ids=["typed", "cursor", "overlong-sort", "filter"],
)
def test_invalid_utf8_in_a_query_parameter_is_a_clean_answer(
    user_client: Client, query: str, status: int
) -> None:
    answer = user_client.send("GET", f"{NOTES}?{query}")
    assert answer.status == status, (answer.status, answer.body[:500])
    if status == 422:
        assert_problem(answer, 422)
    else:
        assert answer.json()["items"] == []


def test_raw_bytes_outside_ascii_in_the_target_are_refused(user_client: Client) -> None:
    answer = user_client.send("GET", b"/api/notes?title=\xff\xfe")
    # uvicorn refuses the request line before the app sees it: plain text, but a 4xx.
    assert answer.status == 400, (answer.status, answer.body[:500])
    assert answer.content_type == "text/plain", answer.headers
    # The app gives every answer a request id: this one never reached it.
    assert answer.header("x-request-id") is None, answer.headers


@pytest.mark.parametrize(
    "title",
    [
        "\u202eRTL override\u202c",
        "emoji \U0001f600 flag \U0001f3f3\ufe0f\u200d\U0001f308",
        "zero\u200bwidth and combining e\u0301",
        "\ufeffbyte order mark",
        "math \U0001d400 and private use \U000f0000",
    ],
    ids=["rtl-override", "emoji", "zero-width", "bom", "astral"],
)
def test_unicode_titles_are_stored_and_read_back_exactly(user_client: Client, title: str) -> None:
    created = user_client.send("POST", NOTES, json={"title": title})
    assert created.status == 201, (created.status, created.body[:500])
    assert created.json()["title"] == title
    read = user_client.send("GET", created.header("location") or "")
    assert read.status == 200, (read.status, read.body[:500])
    assert read.json()["title"] == title


def test_nul_in_text_is_refused_wherever_it_comes(
    user_client: Client, note_count: Callable[[], int]
) -> None:
    # PostgreSQL cannot store NUL in text: refused on every database alike.
    before = note_count()
    in_body = user_client.send("POST", NOTES, json={"title": "nul\u0000inside"})
    assert_problem(in_body, 422)
    assert [e["field"] for e in in_body.json()["errors"]] == ["title"]
    in_query = user_client.send("GET", f"{NOTES}?title=nul%00inside")
    assert_problem(in_query, 422)
    assert nul_errors(in_query) == [("query", "title", "string_nul")]
    # Refused as text with a NUL, before the id is read as a number.
    in_path = user_client.send("GET", f"{NOTES}/1%00")
    assert_problem(in_path, 422)
    assert nul_errors(in_path) == [("path", "id", "string_nul")]
    assert note_count() == before
    # Text that only looks like the escape (a backslash, then u0000) is text.
    lookalike = user_client.send("POST", NOTES, body=b'{"title": "\\\\u0000"}', headers=JSON)
    assert lookalike.status == 201, lookalike.body
    assert lookalike.json()["title"] == "\\u0000"


def nul_errors(answer: Answer) -> list[tuple[str, str, str]]:
    return [(e["in"], e["field"], e["type"]) for e in answer.json()["errors"]]


@pytest.mark.parametrize(
    "escape", ["\\ud800", "\\udfff", "\\ud800\\u0041", "\\udc00\\ud800"], ids=str
)
def test_lone_surrogates_are_refused(
    user_client: Client, note_count: Callable[[], int], escape: str
) -> None:
    before = note_count()
    body = ('{"title": "lone ' + escape + ' surrogate"}').encode()
    answer = user_client.send("POST", NOTES, body=body, headers=JSON)
    assert_problem(answer, 400)
    assert note_count() == before


TRAVERSALS = [
    "/assets/../../pyproject.toml",
    "/assets/../../../pyproject.toml",
    "/assets/../../../../pyproject.toml",
    "/../pyproject.toml",
    "/assets/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/assets/%252e%252e%252f%252e%252e%252fpyproject.toml",
    "/assets/..\\..\\..\\pyproject.toml",
    "/assets/..%5c..%5c..%5cpyproject.toml",
    "/assets/%c0%ae%c0%ae/%c0%ae%c0%ae/pyproject.toml",
    "/assets/....//....//pyproject.toml",
    "/pyproject.toml",
    "/.env",
    "/assets/../.env",
    "/assets/%2e%2e/%2e%2e/.env",
    "/e2eapp.db",
    "/e2eapp/main.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_never_serves_a_file_outside_the_frontend(
    client: Client, secret_key: str, path: str
) -> None:
    answer = client.send("GET", path)
    assert answer.status < 500, (answer.status, answer.body[:500])
    assert b"[project]" not in answer.body
    assert secret_key.encode() not in answer.body
    assert b"SQLite format" not in answer.body
    assert b"create_app" not in answer.body
    # What it may answer: a 404, or the SPA's index page (its client-side routes).
    assert answer.status == 404 or (
        answer.status == 200 and b"<!doctype html>" in answer.body.lower()
    ), (answer.status, answer.body[:500])


SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@pytest.mark.parametrize(
    "odd",
    [
        "<script>alert(1)</script>",
        "id with spaces",
        "quote\"and'apostrophe",
        "percent%0d%0aset-cookie:x",
        "x" * 129,
        "caf\u00e9",
        "semi;colon,comma",
    ],
    ids=["html", "spaces", "quotes", "encoded-crlf", "too-long", "latin1", "separators"],
)
def test_an_odd_request_id_is_replaced_not_echoed(
    client: Client, server_log: ServerLog, odd: str
) -> None:
    answer = client.send("GET", "/healthz", headers={"X-Request-ID": odd})
    assert answer.status == 200
    echoed = answer.header("x-request-id")
    assert echoed is not None
    assert echoed != odd
    assert SAFE_ID.match(echoed), echoed
    assert not any(name.startswith("set-cookie") for name, _ in answer.headers)
    assert_no_line_breaks(answer)
    log = server_log.wait_for(f"[{echoed}] GET /healthz")
    assert odd not in log


def test_a_plain_request_id_is_echoed(client: Client, server_log: ServerLog) -> None:
    answer = client.send("GET", "/healthz", headers={"X-Request-ID": "drill-1.2:3_4"})
    assert answer.header("x-request-id") == "drill-1.2:3_4"
    server_log.wait_for("[drill-1.2:3_4] GET /healthz")


def test_a_header_with_a_bare_line_break_is_refused(
    client: Client, app_server: GeneratedAppServer
) -> None:
    # Clients refuse to send it; a raw socket does. The request dies in the HTTP parser.
    request = client.head("GET", "/healthz", {}).replace(
        b"\r\n\r\n", b"\r\nX-Request-ID: a\rInjected: yes\r\n\r\n"
    )
    answer = client.exchange(request)
    assert answer.status == 400, (answer.status, answer.body[:500])
    assert answer.header("injected") is None
    assert app_server.running


def assert_no_line_breaks(answer: Answer) -> None:
    for name, value in answer.headers:
        assert "\r" not in name + value
        assert "\n" not in name + value


@pytest.mark.parametrize(
    "target",
    ["/healthz", "/api/notes", "/nowhere", "/assets/missing.js", "/", "/api/auth/me"],
)
def test_response_headers_never_hold_line_breaks(client: Client, target: str) -> None:
    assert_no_line_breaks(client.send("GET", target))
