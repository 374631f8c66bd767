"""Benchmark `make audit` and `make sbom` on a lock of many pins (not a test).

Prints the wall time of ``python -m scripts audit`` (pip-audit asking the loopback stand-in of
OSV's query API, selftests/osv_standin.py, one POST per pin, ``--latency`` seconds added to each
answer for the trip to OSV) and of ``python -m scripts sbom``, the best of ``--repeat`` runs.
The lock is synthetic: ``--pins`` pins (two of one name under two markers, so pip-audit runs
twice) and one release package. Run it from the template's root with the tools environment:

    .tools/bin/python benchmarks/bench_audit.py [--pins 50] [--latency 0.05] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "selftests")]

from osv_standin import Advisory, run_osv  # noqa: E402
from scripts.__main__ import main as scripts_main  # noqa: E402

HASH = "    --hash=sha256:" + "1" * 64


def lock(pins: int) -> str:
    """A compiled lock's text: ``pins`` index pins (one name twice) and a release package."""
    release = "https://github.com/explosion/spacy-models/releases/download/m/m-1.0-py3-none-any.whl"
    text = f"#\n# synthetic\n#\nm==1.0 \\\n{HASH}\n    # release: {release}\n"
    text += f'fork==1.0 ; python_version < "3.12" \\\n{HASH}\n'
    text += f'fork==2.0 ; python_version >= "3.12" \\\n{HASH}\n'
    return text + "".join(f"package-{n}==1.{n} \\\n{HASH}\n" for n in range(pins - 2))


def best(command: str, repeat: int) -> tuple[float, str]:
    """The shortest wall time of ``repeat`` runs of ``command``, and its last output line."""
    times, out = [], ""
    for _ in range(repeat):
        output = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(output):
            code = scripts_main([command])
        times.append(time.perf_counter() - start)
        if code not in (0, 1):
            raise SystemExit(f"{command} failed (exit {code})")
        out = output.getvalue().strip().splitlines()[0]
    return min(times), out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pins", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per answer")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args(argv)
    with run_osv() as osv, tempfile.TemporaryDirectory() as tmp:
        osv.latency = args.latency
        osv.advisories.append(Advisory("PYSEC-0000-1", "package-0"))
        os.environ["OSV_URL"] = osv.url
        os.chdir(tmp)
        Path("requirements.txt").write_text(lock(args.pins))
        print(f"{args.pins} pins, {args.latency * 1000:g} ms per answer of the OSV stand-in")
        for command in ("audit", "sbom"):
            before = len(osv.log)
            seconds, out = best(command, args.repeat)
            queries = (len(osv.log) - before) // args.repeat
            print(f"  {command}: {seconds:6.2f} s, {queries} queries a run ({out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
