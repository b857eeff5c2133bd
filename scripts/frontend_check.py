"""Check the project template's frontend: its tests pass, and the shipped bundle is its build.

In a scratch copy of `src/stackkit/templates/project/frontend/` (so that
`node_modules/` never lands in the source tree or the wheel): `npm ci` from the
lock file, `npm test`, `npm run build`, then compare the build with
`src/stackkit/web/` file by file. Builds are reproducible, so any difference
means the shipped bundle is stale. The build must also keep the login page's
initial JavaScript within its budget (90 KB gzipped, `benchmarks/frontend_size.py`):

    python scripts/frontend_check.py            # check (what tox runs)
    python scripts/frontend_check.py --update   # rebuild src/stackkit/web/ from the sources

Needs Node.js and npm on PATH, and the package registry.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from frontend_size import BUDGET, gzipped, login_closure  # noqa: E402

SOURCES = ROOT / "src" / "stackkit" / "templates" / "project" / "frontend"
SHIPPED = ROOT / "src" / "stackkit" / "web"


def npm(folder: Path, *arguments: str) -> None:
    npm_path = shutil.which("npm")
    if npm_path is None:
        raise SystemExit("npm is not on PATH: install Node.js 20.19 or newer")
    print(f"$ npm {' '.join(arguments)}", flush=True)
    result = subprocess.run([npm_path, *arguments], cwd=folder, check=False)
    if result.returncode != 0:
        raise SystemExit(f"npm {' '.join(arguments)} failed (exit {result.returncode})")


def differences(built: Path, shipped: Path) -> list[str]:
    """Files that differ, or are in one tree only."""

    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    built_files, shipped_files = files(built), files(shipped) if shipped.exists() else set()
    changed = [
        name
        for name in sorted(built_files & shipped_files)
        if not filecmp.cmp(built / name, shipped / name, shallow=False)
    ]
    only = sorted(built_files ^ shipped_files)
    return changed + only


def check_bundle_budget(dist: Path) -> None:
    """Fail when the login page's initial JavaScript, gzipped, is over the budget: a
    dependency added to the first chunks slows every user's first visit."""
    chunks = login_closure(dist)
    total = sum(gzipped(chunk) for chunk in chunks)
    names = ", ".join(chunk.name for chunk in chunks)
    if total > BUDGET:
        raise SystemExit(
            f"The login page's initial JavaScript ({names}) is {total:,} bytes gzipped, "
            f"over its budget of {BUDGET:,}: load the new code lazily, or raise the "
            "budget in benchmarks/frontend_size.py and say why."
        )
    print(f"The login page's initial JavaScript is {total:,} bytes gzipped ({BUDGET:,} allowed).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="replace the shipped bundle")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "frontend"
        shutil.copytree(SOURCES, work, ignore=shutil.ignore_patterns("node_modules", "dist"))
        npm(work, "ci", "--no-audit", "--no-fund")
        npm(work, "test")
        npm(work, "run", "build")
        built = work / "dist"
        check_bundle_budget(built)
        if args.update:
            shutil.rmtree(SHIPPED, ignore_errors=True)
            shutil.copytree(built, SHIPPED)
            print(f"Replaced {SHIPPED.relative_to(ROOT)} with the new build.")
            return
        stale = differences(built, SHIPPED)
    if stale:
        print("The shipped bundle (src/stackkit/web/) is not the build of the sources:")
        for name in stale:
            print(f"  {name}")
        print("Run `python scripts/frontend_check.py --update` and commit the result.")
        sys.exit(1)
    print("The frontend's tests pass, and the shipped bundle is its build.")


if __name__ == "__main__":
    main()
