"""The sizes of a built frontend's chunks, and what the login page loads first.

The standard library only (but for `measure`, run by `run_all.py`): the
`frontend` env's check, `scripts/frontend_check.py`, imports it to enforce the
budget on every build.

Reads a Vite build (default: the bundle shipped in `src/stackkit/web/`), prints
every asset's size raw and gzipped, then the JavaScript the login page needs
before it can render: the entry chunk `index.html` loads, the `Login-*.js`
chunk, and every chunk those import, followed to the end. Budget: 90 KB
gzipped (React and React DOM alone are about 69 KB).

    python benchmarks/frontend_size.py [--dist PATH]
"""

from __future__ import annotations

import argparse
import gzip
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness import Row

BUDGET = 90 * 1024
DEFAULT_DIST = Path(__file__).resolve().parents[1] / "src" / "stackkit" / "web"
_ENTRY = re.compile(r'<script[^>]+src="/(assets/[^"]+\.js)"')
_IMPORT = re.compile(r'(?:from|import)\s*"\./([^"]+\.js)"')


def gzipped(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def closure(dist: Path, start: list[Path]) -> list[Path]:
    """`start` and every chunk they import, each once."""
    seen: list[Path] = []
    pending = list(start)
    while pending:
        chunk = pending.pop()
        if chunk in seen:
            continue
        seen.append(chunk)
        imports = _IMPORT.findall(chunk.read_text(encoding="utf-8"))
        pending.extend(dist / "assets" / name for name in imports)
    return seen


def login_closure(dist: Path) -> list[Path]:
    """The chunks the login page needs before it renders."""
    index = dist / "index.html"
    if not index.is_file():
        raise SystemExit(f"no build at {dist} (no index.html)")
    entries = [dist / match for match in _ENTRY.findall(index.read_text(encoding="utf-8"))]
    login = sorted((dist / "assets").glob("Login-*.js"))
    if not entries or not login:
        raise SystemExit("cannot find the entry chunk or the Login chunk in the build")
    return closure(dist, [*entries, *login])


def measure(dist: Path = DEFAULT_DIST) -> list[Row]:
    """The login page's initial JavaScript, gzipped, against the 90 KB budget."""
    from harness import Row  # not at the top: scripts/frontend_check.py imports this file

    total = sum(gzipped(chunk) for chunk in login_closure(dist))
    return [
        Row(
            "frontend: login page's initial JavaScript, gzipped",
            f"{total:,} bytes",
            f"budget {BUDGET:,} bytes",
            total / BUDGET,
            "<= 1.0x (90 KB)",
            total <= BUDGET,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST)
    args = parser.parse_args()
    dist: Path = args.dist
    needed = login_closure(dist)
    print(f"{'asset':<40} | {'bytes':>9} | {'gzipped':>9}")
    for asset in sorted((dist / "assets").iterdir()):
        print(f"{asset.name:<40} | {asset.stat().st_size:>9,} | {gzipped(asset):>9,}")
    total = sum(gzipped(chunk) for chunk in needed)
    names = ", ".join(chunk.name for chunk in needed)
    verdict = "met" if total <= BUDGET else "MISSED"
    print(f"\nlogin page, initial JavaScript: {names}")
    print(f"{total:,} bytes gzipped; budget {BUDGET:,} (90 KB): {verdict}")


if __name__ == "__main__":
    main()
