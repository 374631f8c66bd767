"""Benchmark the workflow against plain pip-tools: GETs of the model file, and a no-op install.

Prints figures; asserts nothing. Run it from the template's root with the tools environment:

    .tools/bin/python benchmarks/bench_workflow.py

It builds the same world as the end-to-end tests (selftests/e2e.py: a loopback stand-in of GitHub
with two releases of a small en_core_web_sm, a local index with a fake spacy) and measures:

1. GETs of the model wheel for two sequences, with the template's targets and with plain
   pip-compile + pip-sync reading a links page that points at GitHub:
   a. first install;
   b. a later install after adding another package to requirements.in (the pin unchanged).
2. Wall time of `make install` with nothing to do, and again after touching every .in file
   (as a fresh clone or a checkout does: the compile is skipped by its inputs digest, pip-sync
   runs), against a bare `pip-sync` of the same requirements.txt (the target is at most 1.5x),
   median of several runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "selftests"), str(ROOT / "scripts")]

from e2e import Project, make_project, render_template  # noqa: E402
from packages import make_wheel  # noqa: E402

WHEEL = "en_core_web_sm-3.8.0-py3-none-any.whl"
RUNS = 7


def add_package(project: Project) -> None:
    """Add a small package to requirements.in, as a user would."""
    extra = make_wheel(project.path.parent / "more", "smalldep", "1.0")
    project.publish_index(extra)
    project.write("requirements.in", project.read("requirements.in") + "smalldep\n")


def plain(project: Project, *command: str) -> None:
    """Run a plain pip-tools command in the project, reading the links page with GitHub URLs."""
    tools = Path(sys.prefix) / "bin"
    subprocess.run(
        [str(tools / command[0]), *command[1:], "--find-links", "build/plain-links.html"],
        cwd=project.path,
        env=project.env,
        check=True,
        capture_output=True,
    )


def gets_template(tmp: Path) -> tuple[int, int]:
    with make_project(tmp, render_template(tmp / "rendered")) as project:
        project.run("install")
        first = project.github.downloads(WHEEL)
        add_package(project)
        project.run("install")
        return first, project.github.downloads(WHEEL) - first


def gets_plain(tmp: Path) -> tuple[int, int]:
    with make_project(tmp, render_template(tmp / "rendered")) as project:
        project.run("links")
        subprocess.run(
            [sys.executable, "scripts/model_links.py", "-q", "--files-dir", "build/none",
             "--output", "build/plain-links.html", "--manifest", "build/plain-assets.json"],
            cwd=project.path, env=project.env, check=True,
        )  # fmt: skip
        subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=project.path, check=True)
        compile_args = ("pip-compile", "-q", "--generate-hashes", "-o", "requirements.txt")
        sync_args = ("pip-sync", "-q", "--python-executable", ".venv/bin/python")
        plain(project, *compile_args, "requirements.in")
        plain(project, *sync_args, "requirements.txt")
        first = project.github.downloads(WHEEL)
        add_package(project)
        plain(project, *compile_args, "requirements.in")
        plain(project, *sync_args, "requirements.txt")
        return first, project.github.downloads(WHEEL) - first


def timed(project: Project, command: list[str]) -> float:
    """Median wall seconds of ``command`` over RUNS runs (after one warm-up)."""
    runs = []
    for _ in range(RUNS + 1):
        start = time.perf_counter()
        subprocess.run(command, cwd=project.path, env=project.env, check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs[1:])


def noop_install(tmp: Path) -> tuple[float, float, float]:
    with make_project(tmp, render_template(tmp / "rendered")) as project:
        project.run("install")
        make = timed(project, ["make", "install"])
        # Every .in file touched (a fresh clone, a checkout): no compile, only a pip-sync.
        touched = timed(project, ["sh", "-c", "touch requirements*.in && make install"])
        sync = timed(
            project,
            [str(Path(sys.prefix) / "bin/pip-sync"), "-q", "--python-executable",
             ".venv/bin/python", "--find-links", "build/model-links.html", "requirements.txt"],
        )  # fmt: skip
        return make, touched, sync


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "a").mkdir()
        (base / "b").mkdir()
        (base / "c").mkdir()
        template, plain_tools = gets_template(base / "a"), gets_plain(base / "b")
        make, touched, sync = noop_install(base / "c")
    print(f"GETs of {WHEEL} (a small stand-in; en_core_web_trf's wheel is 436 MB)")
    print(f"  {'sequence':<44} {'template':>8} {'plain pip-tools':>16}")
    print(f"  {'first install':<44} {template[0]:>8} {plain_tools[0]:>16}")
    label = "install after adding a package (pin unchanged)"
    print(f"  {label:<44} {template[1]:>8} {plain_tools[1]:>16}")
    print(f"No-op install, median of {RUNS} runs:")
    print(f"  make install, nothing to do:     {make * 1000:7.0f} ms")
    print(f"  make install, .in files touched: {touched * 1000:7.0f} ms")
    print(f"  bare pip-sync:                   {sync * 1000:7.0f} ms")
    print(f"  ratios: {make / sync:.2f}x and {touched / sync:.2f}x (target: at most 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
