"""Benchmark `python -m scripts links` against the loopback GitHub stand-in (not a test).

Lists 1,000 synthetic releases (the most GitHub lists, notes row 1) cold (empty ETag cache)
and warm (every page answered 304), and prints the API requests each run made and its best wall
time of ``--repeat`` runs. The stand-in can delay every API answer (``--latency``) to stand for
the round trip to api.github.com.

    .tools/bin/python benchmarks/bench_links.py [--releases 1000] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "selftests")]

from scripts.__main__ import main as scripts_main  # noqa: E402
from standin import GitHubStandIn, run_standin  # noqa: E402

REPO = "acme/models"


def timed_run(standin: GitHubStandIn, folder: Path) -> tuple[float, int, str]:
    """List the releases once in ``folder``; return (seconds, API requests, its summary)."""
    before = len(standin.api_requests())
    output = io.StringIO()
    start = time.perf_counter()
    with contextlib.chdir(folder), contextlib.redirect_stdout(output):
        code = scripts_main(["links"])
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"links failed (exit {code})")
    return elapsed, len(standin.api_requests()) - before, output.getvalue().strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to each API answer"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args(argv)
    os.environ.pop("GITHUB_TOKEN", None)
    os.environ["MODEL_REPOS"] = REPO
    with run_standin() as standin, tempfile.TemporaryDirectory() as tmp:
        standin.latency = args.latency
        standin.add_synthetic(REPO, args.releases)
        os.environ["GITHUB_API_URL"] = standin.api_url
        pages = math.ceil(args.releases / 100)
        print(
            f"{args.releases} releases, {pages} pages of 100, {args.latency * 1000:g} ms per answer"
        )
        best: dict[str, tuple[float, int, str]] = {}
        for repeat in range(args.repeat):
            folder = Path(tmp) / f"run{repeat}"  # a fresh cache: cold, then warm
            folder.mkdir()
            for kind in ("cold", "warm"):
                result = timed_run(standin, folder)
                if kind not in best or result[0] < best[kind][0]:
                    best[kind] = result
        for kind, (seconds, requests, summary) in best.items():
            print(f"  {kind}: {requests:3d} API requests, {seconds:6.3f} s")
            print(f"    {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
