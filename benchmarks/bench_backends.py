"""Benchmark the template with each backend against plain pip-tools and plain uv (not a test).

Prints a Markdown table of wall times (the median of ``--repeat`` runs, the kinds taking turns,
since a cold run's downloads from the index vary from run to run) and GETs of the model wheel,
and with ``--write`` puts it in BENCHMARKS.md. Run it from the template's root with the tools
environment:

    .tools/bin/python benchmarks/bench_backends.py [--repeat N] [--write]

The world is the end-to-end tests' (selftests/e2e.py: a loopback stand-in of GitHub serving
releases 3.7.1 and 3.8.0 of en_core_web_sm), but every other package comes from a real index
(BENCH_INDEX_URL, default https://pypi.org/simple): ``spacy>=3.8,<3.9`` and the model, about 45
pins. Each of the four runs in a project of its own, with empty caches of its own:

* cold: no environment, no lock, empty caches: make the environment, compile, install;
* edit: add ``tomli`` to requirements.in, then compile and install again (caches warm);
* no-op: install again with nothing changed (median of 5);
* upgrade: re-pin everything to the newest allowed versions, and install.

The template's flows are its make targets (upgrade: `make links`, `compile --upgrade`, `make
install`: `make upgrade` without its report and tests). Plain pip-tools is `python -m venv` +
`pip-compile --generate-hashes` + `pip-sync`, plain uv is `uv venv` + `uv pip compile
--generate-hashes` + `uv pip sync --require-hashes`, both reading a links page that points at
the stand-in (written by `make links` before anything is cached, so nothing local is linked).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "selftests")]

from e2e import Project, make_project, render_template  # noqa: E402

WHEEL = "en_core_web_sm-3.8.0-py3-none-any.whl"
TOOLS = Path(sys.prefix) / "bin"
INDEX = os.environ.get("BENCH_INDEX_URL", "https://pypi.org/simple")
FLOWS = ("cold", "edit", "no-op", "upgrade")
KINDS = ("template, pip-tools", "template, uv", "plain pip-tools", "plain uv")


def run(project: Project, *command: str) -> None:
    """Run ``command`` in the project; fail loudly (a benchmark of a failure means nothing)."""
    result = subprocess.run(command, cwd=project.path, env=project.env, capture_output=True,
                            text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def plain_pip_tools(project: Project, flow: str) -> None:
    links = ("--find-links", "build/plain-links.html")
    if flow == "cold":
        run(project, sys.executable, "-m", "venv", ".venv")
    if flow != "no-op":
        upgrade = ["--upgrade"] if flow == "upgrade" else []
        run(project, str(TOOLS / "pip-compile"), "-q", "--generate-hashes", *upgrade, *links,
            "-o", "requirements.txt", "requirements.in")  # fmt: skip
    run(project, str(TOOLS / "pip-sync"), "-q", "--python-executable", ".venv/bin/python",
        *links, "requirements.txt")  # fmt: skip


def plain_uv(project: Project, flow: str) -> None:
    links = ("--find-links", "build/plain-links.html")
    if flow == "cold":
        run(project, str(TOOLS / "uv"), "venv", "-q", ".venv")
    if flow != "no-op":
        upgrade = ["--upgrade"] if flow == "upgrade" else []
        run(project, str(TOOLS / "uv"), "pip", "compile", "-q", "--generate-hashes", *upgrade,
            *links, "-o", "requirements.txt", "requirements.in")  # fmt: skip
    run(project, str(TOOLS / "uv"), "pip", "sync", "-q", "--require-hashes", "--python",
        ".venv/bin/python", *links, "requirements.txt")  # fmt: skip


def template(project: Project, flow: str) -> None:
    if flow == "upgrade":
        run(project, "make", "links")
        run(project, str(TOOLS / "python"), "-m", "scripts", "compile", "--upgrade")
    run(project, "make", "install")


def measure(kind: str, base: Path, rendered: Path) -> dict[str, tuple[float, int]]:
    """{flow: (seconds, GETs of the model wheel)} for one kind of run."""
    results: dict[str, tuple[float, int]] = {}
    folder = base / re.sub(r"\W+", "-", kind)
    folder.mkdir()
    with make_project(folder, rendered, resolver="uv" if "uv" in kind else "pip-tools") as project:
        shutil.rmtree(project.path / ".venv", ignore_errors=True)
        project.env.pop("PIP_NO_CACHE_DIR")
        project.env.update(PIP_INDEX_URL=INDEX, PIP_CACHE_DIR=str(folder / "pip-cache"),
                           UV_INDEX_URL=INDEX)  # fmt: skip
        project.write("requirements.in", "spacy>=3.8,<3.9\nen_core_web_sm>=3.8.0,<3.9.0\n")
        step: Callable[[Project, str], None] = template
        if kind.startswith("plain"):
            run(project, "make", "links")
            shutil.copy(
                project.path / "build/model-links.html", project.path / "build/plain-links.html"
            )
            step = plain_uv if "uv" in kind else plain_pip_tools
        for flow in FLOWS:
            if flow == "edit":
                project.write("requirements.in", project.read("requirements.in") + "tomli\n")
            before = project.github.downloads(WHEEL)
            times = []
            for _ in range(5 if flow == "no-op" else 1):
                start = time.perf_counter()
                step(project, flow)
                times.append(time.perf_counter() - start)
            results[flow] = statistics.median(times), project.github.downloads(WHEEL) - before
    return results


def table(results: dict[str, dict[str, tuple[float, int]]]) -> str:
    """The Markdown table: seconds (and model-wheel GETs) per flow and kind."""
    lines = ["| flow | " + " | ".join(KINDS) + " |", "|---" * (len(KINDS) + 1) + "|"]
    for flow in FLOWS:
        cells = []
        for kind in KINDS:
            seconds, gets = results[kind][flow]
            shown = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
            cells.append(f"{shown} ({gets} GET{'s' if gets != 1 else ''})")
        lines.append(f"| {flow} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def median_of(runs: list[dict[str, tuple[float, int]]]) -> dict[str, tuple[float, int]]:
    """Each flow's median time over ``runs`` (its GETs are the same in every run)."""
    return {
        flow: (statistics.median(run[flow][0] for run in runs), max(run[flow][1] for run in runs))
        for flow in FLOWS
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="put the table in BENCHMARKS.md")
    parser.add_argument(
        "--repeat", type=int, default=3, metavar="N",
        help="run every kind N times, in turn, and show the medians (default 3)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, tuple[float, int]]]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_template(Path(tmp) / "rendered")
        for repeat in range(args.repeat):
            base = Path(tmp) / f"run-{repeat}"
            base.mkdir()
            for kind in KINDS:
                runs[kind].append(measure(kind, base, rendered))
    text = table({kind: median_of(runs[kind]) for kind in KINDS})
    print(text, end="")
    if args.write:
        path = ROOT / "BENCHMARKS.md"
        start, end = "<!-- bench_backends: start -->\n", "<!-- bench_backends: end -->\n"
        old = path.read_text()
        path.write_text(old[: old.index(start) + len(start)] + text + old[old.index(end) :])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
