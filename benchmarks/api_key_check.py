"""What a request signed with an API key costs against one with an access token.

Generates a project (`note title:str body:text`, see `generated_project.py`), signs
a user in, adds 10 notes, makes an API key, and calls the app's ASGI callable in
this process (as `request_path.py` does) with `GET /api/notes`, once with the
access token and once with the key, in alternating rounds: the list uncached
(`STACKKIT_CACHE_TTL=0`: the key's check and the token's, then the query) and
cached (a hit). Goal: the key's request at most 1.2x the token's.

    python benchmarks/api_key_check.py [--redis-url redis://127.0.0.1:6379/0]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--n 2000]

Without the URLs, the embedded defaults (SQLite, in-process stores) only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics

import uvloop
from generated_project import Project, make_project
from harness import Row
from request_path import (
    LIST_PATH,
    RATE_LIMIT,
    Loaded,
    call,
    in_own_process,
    per_call_us,
    request_scope,
)

GOAL = 1.2
ROUNDS = 7


async def _figures(project: Project, n: int) -> dict[str, float]:
    async with Loaded(project) as loaded:
        token = await loaded.sign_in_with_notes()
        body = b'{"name":"benchmark"}'
        scope = request_scope("POST", "/api/auth/api-keys", token, body)
        made = await call(loaded.app, scope, body)
        if made.status != 201:
            raise SystemExit(f"POST /api/auth/api-keys: {made.status} {made.body!r}")
        key = str(json.loads(made.body)["key"])
        with_token = request_scope("GET", LIST_PATH, token)
        with_key = request_scope("GET", LIST_PATH, key)
        for scope in (with_token, with_key):
            for _ in range(3):  # warm: the key's record kept, the entry cached
                reply = await call(loaded.app, scope)
                if reply.status != 200:
                    raise SystemExit(f"GET {LIST_PATH}: {reply.status} {reply.body!r}")
        token_us, key_us, ratios = [], [], []
        for _ in range(ROUNDS):  # in turn: a slow spell weighs on both sides of a ratio
            token_us.append(await per_call_us(lambda: call(loaded.app, with_token), n, rounds=1))
            key_us.append(await per_call_us(lambda: call(loaded.app, with_key), n, rounds=1))
            ratios.append(key_us[-1] / token_us[-1])
        return {
            "token": statistics.median(token_us),
            "key": statistics.median(key_us),
            "ratio": statistics.median(ratios),
        }


def _measure_in_child(project: Project, n: int) -> dict[str, float]:
    return uvloop.run(_figures(project, n))


def _measure_setup(
    postgres: str | None, cache: str | None, cached: bool, n: int
) -> dict[str, float]:
    settings = {"stackkit_rate_limit": RATE_LIMIT}
    if not cached:
        settings["stackkit_cache_ttl"] = "0"
    project = make_project(postgres, cache, **settings)
    return in_own_process(project, _measure_in_child, n)  # type: ignore[no-any-return]


def measure(
    *, redis_url: str | None = None, database_url: str | None = None, n: int = 1000
) -> list[Row]:
    setups: list[tuple[str, str | None, str | None]] = [("embedded", None, None)]
    if redis_url and database_url:
        setups.append(("PostgreSQL + Redis", database_url, redis_url))
    rows, lines = [], []
    for label, postgres, cache in setups:
        for cached in (False, True):
            figures = _measure_setup(postgres, cache, cached, n)
            kind = "cached" if cached else "uncached"
            lines.append(
                f"{label}, {kind} GET: API key {figures['key']:.1f} us, access token "
                f"{figures['token']:.1f} us ({figures['ratio']:.2f}x)"
            )
            rows.append(
                Row(
                    f"API key vs access token, {kind} GET, {label}",
                    f"{figures['key']:.1f} us",
                    f"{figures['token']:.1f} us",
                    figures["ratio"],
                    f"<= {GOAL}x",
                    figures["ratio"] <= GOAL,
                )
            )
    print("\n".join(lines))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--n", type=int, default=1000, help="calls per timing")
    args = parser.parse_args()
    measure(redis_url=args.redis_url, database_url=args.database_url, n=args.n)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
