"""Install locks into the project's environment, checked first: the guarded pip-sync.

`make install` (requirements.txt) and `make test` (with requirements-dev.txt) run this. Before
pip reads a lock, the lock must pass every check that needs no network (verify.check): written
by make and unchanged since (its ``# lock sha256:`` line), every requirement pinned with ``==``
and hashed, no package source and no credential in it, and each release package with exactly
its release files' hashes, those files unchanged since they were downloaded. So a hand edit (an
``--extra-index-url`` and an sdist pin, say) is refused before anything is built or installed.

Then pip-sync makes the environment match the locks exactly, every hash required, finding files
on the links page, in build/wheels, in FIND_LINKS and through the user's pip configuration,
with no GitHub token in its environment. A failure is one line, with no credential in it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import common
import verify
from model_links import read_manifest
from release_files import FILES_DIR, MANIFEST

EXAMPLES = """\
examples:
  python scripts/sync.py --python .venv/bin/python requirements.txt
  python scripts/sync.py --python .venv/bin/python requirements.txt requirements-dev.txt
"""


def refused(locks: Sequence[Path]) -> list[str]:
    """Every problem the offline checks find in ``locks``."""
    assets = read_manifest(MANIFEST) if MANIFEST.is_file() else []
    sums = common.read_sha256sums(FILES_DIR / "SHA256SUMS")
    problems = []
    for lock in locks:
        if not lock.is_file():
            raise common.UserError(f"{lock} is missing: run `make {lock}`")
        problems += verify.check(lock, assets, sums)
    return problems


def explain(output: str) -> str:
    """One line for a failed pip-sync: pip's first error, and the packages a hash check named."""
    output = common.mask_url(output)
    errors = [line.removeprefix("ERROR: ") for line in output.splitlines() if "ERROR:" in line]
    named = re.findall(r"^\s+(\S+==\S+) from ", output, flags=re.MULTILINE)
    if "DO NOT MATCH THE HASHES" in output:
        return (
            f"pip refused {', '.join(named) or 'a file'}: its file does not match the hash in "
            "the lock. Run `make verify` to see which file changed"
        )
    first = errors[0] if errors else (output.strip().splitlines() or ["no output"])[-1]
    return f"pip-sync failed: {first.strip()[:300]}"


@common.guarded
def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(__doc__, EXAMPLES)
    parser.add_argument("--python", type=Path, required=True, help="the environment's python")
    parser.add_argument("locks", nargs="+", type=Path, help="compiled requirement files")
    args = parser.parse_args(argv)
    try:
        problems = refused(args.locks)
        if problems:
            for problem in problems:
                common.error(problem)
            return common.error("nothing was installed: fix the above, then run the same command")
        result = subprocess.run(
            [sys.executable, "-m", "piptools", "sync", "--quiet",
             "--python-executable", str(args.python),
             "--pip-args", "--require-hashes --no-deps", *map(str, args.locks)],
            env=common.pip_env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise common.UserError(explain(result.stdout + result.stderr))
    except common.UserError as exc:
        return common.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
