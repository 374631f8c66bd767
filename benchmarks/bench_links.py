"""Benchmark scripts/model_links.py against the loopback GitHub stand-in (not a test).

Lists 1,000 synthetic releases (the most GitHub lists, notes row 1) cold (empty ETag cache)
and warm (every page answered 304), with
the pages after the first fetched one after another (``--jobs 1``) and four at a time, and prints
the API requests each run made and its best wall time of ``--repeat`` runs. The stand-in can
delay every API answer (``--latency``) to stand for the round trip to api.github.com.

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
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "selftests")]

import model_links  # noqa: E402

from standin import GitHubStandIn, run_standin  # noqa: E402

REPO = "acme/models"


def timed_run(standin: GitHubStandIn, build: Path, jobs: int) -> tuple[float, int, str]:
    """Run model_links.main once; return (seconds, API requests made, its summary line)."""
    before = len(standin.api_requests())
    args = ["--repo", REPO, "--jobs", str(jobs), "-o", str(build / "model-links.html")]
    args += ["--manifest", str(build / "model-assets.json"), "--cache-dir", str(build / "cache")]
    output = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(output):
        code = model_links.main([*args, "--files-dir", str(build / "release-files")])
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"model_links.py failed (exit {code})")
    return elapsed, len(standin.api_requests()) - before, output.getvalue().strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to each API answer"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args(argv)
    os.environ.pop("GITHUB_TOKEN", None)
    with run_standin() as standin, tempfile.TemporaryDirectory() as tmp:
        standin.latency = args.latency
        standin.add_synthetic(REPO, args.releases)
        os.environ["GITHUB_API_URL"] = standin.api_url
        pages = math.ceil(args.releases / 100)
        print(
            f"{args.releases} releases, {pages} pages of 100, {args.latency * 1000:g} ms per answer"
        )
        results: dict[tuple[str, int], float] = {}
        reports: dict[tuple[str, int], tuple[int, str]] = {}
        pages_seen: dict[int, bytes] = {}
        for jobs in (1, 4):
            for repeat in range(args.repeat):
                build = Path(tmp) / f"jobs{jobs}-{repeat}"  # a fresh cache: cold, then warm
                for kind in ("cold", "warm"):
                    seconds, requests, summary = timed_run(standin, build, jobs)
                    results[kind, jobs] = min(seconds, results.get((kind, jobs), seconds))
                    reports[kind, jobs] = requests, summary
            for kind in ("cold", "warm"):
                seconds, (requests, summary) = results[kind, jobs], reports[kind, jobs]
                print(f"  {kind} --jobs {jobs}: {requests:3d} API requests, {seconds:6.3f} s")
                print(f"    {summary}")
            pages_seen[jobs] = (build / "model-links.html").read_bytes()
        same = "identical" if pages_seen[1] == pages_seen[4] else "DIFFERENT"
        print(f"pages written with --jobs 1 and --jobs 4 are {same}")
        for kind in ("cold", "warm"):
            speedup = results[kind, 1] / results[kind, 4]
            print(f"{kind}: --jobs 4 is {speedup:.1f}x as fast as one page after another")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
