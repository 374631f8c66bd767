"""Benchmark the template with each backend against plain pip-tools and plain uv (not a test).

Prints a Markdown table per setting of wall times (the median of ``--repeat`` runs, the kinds
taking turns, since a cold run's downloads from the index vary from run to run), the bytes of the
model fetched from the stand-in and the peak memory of the largest process, and with ``--write``
puts them in BENCHMARKS.md. Run it from the template's root with the tools environment:

    .tools/bin/python benchmarks/bench_backends.py [--repeat N] [--write] [--settings ...]
        [--bandwidth MB_PER_S] [--latency MS]

The world is the end-to-end tests' (selftests/e2e.py: a loopback stand-in of GitHub serving
releases of the model), but every other package comes from a real index (BENCH_INDEX_URL,
default https://pypi.org/simple): ``spacy>=3.8,<3.9`` and the model, about 45 pins. The
settings:

* loopback: the e2e tests' small ``en_core_web_sm`` 3.8.0, the stand-in as fast as loopback;
* paced-120, paced-500: a model wheel of 120 MB (``en_core_web_md``) or 500 MB
  (``en_core_web_lg``) of incompressible bytes, the stand-in paced like a distant GitHub: every
  answer waits ``--latency`` (a round trip) and sends its body at ``--bandwidth``.

Each kind runs in a project of its own, with empty caches of its own, four flows in turn:

* cold: no environment, no lock, empty caches: make the environment, compile, install;
* edit: add ``tomli`` to requirements.in, then compile and install again (caches warm);
* no-op: install again with nothing changed (median of 5);
* upgrade: re-pin everything to the newest allowed versions, and install.

The template's flows are its make targets (upgrade: `make links`, `compile --upgrade`, `make
install`: `make upgrade` without its report and tests). Plain pip-tools is `python -m venv` +
`pip-compile --generate-hashes` + `pip-sync`, plain uv is `uv venv` + `uv pip compile
--universal --generate-hashes` (the template's locks hold on every platform of PLATFORMS) +
`uv pip sync --require-hashes`, both reading a links page that points at the stand-in (written
by `make links` before anything is cached, so nothing local is linked). Peak memory is the
largest resident set of any one process a flow starts (``wait4``'s ``ru_maxrss``, which covers a
command and every process it waited for; Linux).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "selftests")]

import standin  # noqa: E402
from e2e import Project, make_project, render_template  # noqa: E402
from packages import MODEL_CODE, make_wheel, model_entry_point  # noqa: E402

TOOLS = Path(sys.prefix) / "bin"
INDEX = os.environ.get("BENCH_INDEX_URL", "https://pypi.org/simple")
FLOWS = ("cold", "edit", "no-op", "upgrade")
KINDS = ("template, pip-tools", "template, uv", "plain pip-tools", "plain uv")


@dataclass(frozen=True)
class Setting:
    """A model and the network it comes over."""

    name: str
    model: str
    megabytes: int  # 0: the e2e tests' small model
    paced: bool

    @property
    def wheel(self) -> str:
        return f"{self.model}-3.8.0-py3-none-any.whl"


SETTINGS = {
    "loopback": Setting("loopback", "en_core_web_sm", 0, paced=False),
    "paced-120": Setting("paced-120", "en_core_web_md", 120, paced=True),
    "paced-500": Setting("paced-500", "en_core_web_lg", 500, paced=True),
}


class Figures(NamedTuple):
    """One flow of one kind: wall seconds, bytes of the model fetched, peak memory (KiB)."""

    seconds: float
    fetched: int
    peak_kib: int


class Paced:
    """A stand-in's output stream that sends at most ``rate`` bytes a second (0: unpaced)."""

    rate = 0.0  # bytes a second, for every stream (set by ``pace``)
    latency = 0.0  # seconds every answer waits

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def write(self, data: bytes) -> int:
        if not self.rate:
            return self.raw.write(data)
        start = time.monotonic()
        view = memoryview(data)
        for at in range(0, len(view), 1 << 16):
            self.raw.write(view[at : at + (1 << 16)])
            ahead = (at + (1 << 16)) / self.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def pace(bandwidth: float, latency: float) -> None:
    """Make every stand-in answer (API, github.com, storage) wait ``latency`` seconds and send
    its body at ``bandwidth`` bytes a second (0, 0: as fast as loopback goes): the trip to
    GitHub and the link to it. What the stand-in answers is unchanged (selftests/standin.py)."""
    Paced.rate, Paced.latency = bandwidth, latency
    handler = standin._Handler
    if getattr(handler, "paced", False):
        return
    setup, get = handler.setup, handler.do_GET

    def paced_setup(self: Any) -> None:
        setup(self)
        self.wfile = Paced(self.wfile)

    def paced_get(self: Any) -> None:
        time.sleep(Paced.latency)
        get(self)

    handler.setup, handler.do_GET = paced_setup, paced_get
    handler.paced = True


# Started between this process and each command: a child's peak memory counts the memory of
# the process it was forked from (Linux keeps the old high-water mark across exec), and this one
# holds the model it serves, so the command is forked from a small Python instead.
MEASURED = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run(project: Project, *command: str) -> int:
    """Run ``command`` in the project; return the peak memory (KiB, as Linux counts it) of its
    largest process (``wait4``: the command and every process it waited for). Fail loudly: a
    benchmark of a failure means nothing."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile() as peak:
        launch = [sys.executable, "-I", "-S", "-c", MEASURED, peak.name, *command]
        result = subprocess.run(
            launch, cwd=project.path, env=project.env, stdout=out, stderr=subprocess.STDOUT
        )
        if result.returncode != 0:
            out.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{out.read().decode()}")
        return int(Path(peak.name).read_text())


def plain_pip_tools(project: Project, flow: str) -> int:
    links = ["--find-links", "build/plain-links.html"]
    commands = [[sys.executable, "-m", "venv", ".venv"]] if flow == "cold" else []
    if flow != "no-op":
        upgrade = ["--upgrade"] if flow == "upgrade" else []
        out = ["-o", "requirements.txt", "requirements.in"]
        commands.append(
            [str(TOOLS / "pip-compile"), "-q", "--generate-hashes", *upgrade, *links, *out]
        )
    python = ["--python-executable", ".venv/bin/python"]
    commands.append([str(TOOLS / "pip-sync"), "-q", *python, *links, "requirements.txt"])
    return max(run(project, *command) for command in commands)


def plain_uv(project: Project, flow: str) -> int:
    uv = str(TOOLS / "uv")
    links = ["--find-links", "build/plain-links.html"]
    commands = [[uv, "venv", "-q", ".venv"]] if flow == "cold" else []
    if flow != "no-op":
        upgrade = ["--upgrade"] if flow == "upgrade" else []
        out = ["-o", "requirements.txt", "requirements.in"]
        compile_ = [uv, "pip", "compile", "-q", "--universal", "--generate-hashes"]
        commands.append([*compile_, *upgrade, *links, *out])
    sync = [uv, "pip", "sync", "-q", "--require-hashes", "--python", ".venv/bin/python"]
    commands.append([*sync, *links, "requirements.txt"])
    return max(run(project, *command) for command in commands)


def template(project: Project, flow: str) -> int:
    commands = [["make", "install"]]
    if flow == "upgrade":
        upgrade = [str(TOOLS / "python"), "-m", "scripts", "compile", "--upgrade"]
        commands[:0] = [["make", "links"], upgrade]
    return max(run(project, *command) for command in commands)


def model_release(setting: Setting, folder: Path) -> bytes:
    """The bytes of the setting's model wheel (incompressible: a model's weights are)."""
    payload = os.urandom(setting.megabytes * 2**20)
    entry_points = model_entry_point(setting.model)
    requires = ["spacy>=3.8.0,<3.9.0"]
    wheel = make_wheel(
        folder, setting.model, "3.8.0", requires, payload, MODEL_CODE, "", entry_points=entry_points
    )
    return wheel.read_bytes()


def measure(
    kind: str, base: Path, rendered: Path, setting: Setting, model: bytes
) -> dict[str, Figures]:
    """{flow: figures} for one kind of run."""
    results: dict[str, Figures] = {}
    folder = base / re.sub(r"\W+", "-", kind)
    folder.mkdir()
    with make_project(folder, rendered, resolver="uv" if "uv" in kind else "pip-tools") as project:
        if model:
            tag, files = f"{setting.model}-3.8.0", {setting.wheel: model}
            project.github.add_release("explosion/spacy-models", tag, files, digest=False)
        shutil.rmtree(project.path / ".venv", ignore_errors=True)
        project.env.pop("PIP_NO_CACHE_DIR")
        caches = {"PIP_CACHE_DIR": str(folder / "pip-cache")}
        project.env.update(PIP_INDEX_URL=INDEX, UV_INDEX_URL=INDEX, **caches)
        project.write("requirements.in", f"spacy>=3.8,<3.9\n{setting.model}>=3.8.0,<3.9.0\n")
        step: Callable[[Project, str], int] = template
        if kind.startswith("plain"):
            run(project, "make", "links")
            shutil.copy(
                project.path / "build/model-links.html", project.path / "build/plain-links.html"
            )
            step = plain_uv if "uv" in kind else plain_pip_tools
        for flow in FLOWS:
            if flow == "edit":
                project.write("requirements.in", project.read("requirements.in") + "tomli\n")
            before = project.github.served(setting.wheel)
            times, peak = [], 0
            for _ in range(5 if flow == "no-op" else 1):
                start = time.perf_counter()
                peak = max(peak, step(project, flow))
                times.append(time.perf_counter() - start)
            fetched = project.github.served(setting.wheel) - before
            results[flow] = Figures(statistics.median(times), fetched, peak)
    return results


def size(count: int) -> str:
    return f"{count / 2**20:.0f} MB" if count >= 2**20 else f"{count / 2**10:.0f} KB"


def table(results: dict[str, dict[str, Figures]]) -> str:
    """The Markdown table: seconds, model bytes fetched and peak memory per flow and kind."""
    kinds = list(results)
    lines = ["| flow | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for flow in FLOWS:
        cells = []
        for kind in kinds:
            seconds, fetched, peak = results[kind][flow]
            shown = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
            cells.append(f"{shown} ({size(fetched) if fetched else '0'}; {size(peak * 1024)})")
        lines.append(f"| {flow} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def median_of(runs: list[dict[str, Figures]]) -> dict[str, Figures]:
    """Each flow's median time over ``runs``, with the most it fetched and its highest peak."""
    return {
        flow: Figures(
            statistics.median(run[flow].seconds for run in runs),
            max(run[flow].fetched for run in runs),
            max(run[flow].peak_kib for run in runs),
        )
        for flow in FLOWS
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="put the tables in BENCHMARKS.md")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="run every kind N times, in turn, and show the medians (default 3)",
    )
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument(
        "--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="run only these kinds"
    )
    parser.add_argument("--bandwidth", type=float, default=40, help="MB/s (default 40)")
    parser.add_argument("--latency", type=float, default=50, help="ms a request (default 50)")
    args = parser.parse_args(argv)
    if args.write and args.kinds != list(KINDS):
        parser.error("--write needs every kind: BENCHMARKS.md's tables show all four")
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_template(Path(tmp) / "rendered")
        for name in args.settings:
            setting = SETTINGS[name]
            paced = (args.bandwidth * 2**20, args.latency / 1000) if setting.paced else (0, 0)
            pace(*paced)
            model = model_release(setting, Path(tmp) / name) if setting.megabytes else b""
            runs: dict[str, list[dict[str, Figures]]] = {kind: [] for kind in args.kinds}
            for repeat in range(args.repeat):
                base = Path(tmp) / f"{name}-{repeat}"
                base.mkdir()
                for kind in args.kinds:
                    runs[kind].append(measure(kind, base, rendered, setting, model))
            tables[name] = table({kind: median_of(runs[kind]) for kind in args.kinds})
            print(f"{name}:\n{tables[name]}", flush=True)
    if args.write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text()
        for name, found in tables.items():
            start, end = (f"<!-- bench_backends {name}: {edge} -->\n" for edge in ("start", "end"))
            if start in text:
                text = text[: text.index(start) + len(start)] + found + text[text.index(end) :]
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
