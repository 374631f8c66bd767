"""`make demo`: the whole life of a copy of the template, end to end, with no GitHub.

A tour for a newcomer, not a test (the self-tests are the tests; test_demo.py runs this and
checks what it shows). In a throwaway folder (build/demo/ unless given), emptied first:

* copier, from the tools lock, makes a project of the template, as `copier copy` does;
* the self-tests' loopback stand-in of GitHub (standin.py) serves the real release names of
  explosion/spacy-models (selftests/data/spacy-models-releases.tsv: more than GitHub's listing
  reaches), and as the release file of ``en_core_web_sm`` 3.8.0 a small spaCy package built here,
  which ``spacy.load()`` loads;
* the real make targets run there with the default backend (pip-tools), spaCy and everything
  else coming from the package index (PyPI, or ``DEMO_INDEX_URL``).

Each step prints one line, its claim and how long it took, then its evidence; a summary ends it,
and the exit status is 0 only if every step showed what it claims. Every command's output is in
``log.txt`` there, and the figures in ``summary.json``.

This machine's pip configuration (its files and ``PIP_*`` variables) would change what the demo
resolves, so none of it reaches the project, as in the self-tests; only how pip reaches the
index is kept (``PIP_CERT``, ``PIP_CLIENT_CERT``, ``PIP_PROXY``, ``PIP_DEFAULT_TIMEOUT`` and the
cache, ``PIP_CACHE_DIR``). Behind a mirror of PyPI, set ``DEMO_INDEX_URL`` to its simple index.
The project uses the template's own tools environment (.tools, made by `make tools`).

    .tools/bin/python selftests/demo.py [FOLDER]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from e2e import GIT_ENV, MINE, ROOT, TOOLS, Project, render_template
from packages import make_marker_sdist, make_wheel, write_simple_index
from standin import GitHubStandIn, run_standin

REPO = "explosion/spacy-models"
MODEL = "en_core_web_sm"
FIRST = "3.8.0"  # the newest en_core_web_sm in the release table
NEW = "3.8.1"  # made up: the next release, which the table cannot list yet
HOUR_OLD = "3.8.2"  # made up too: published an hour before the upgrade, which holds it back
SPACY_RANGE = "spacy>=3.8.0,<3.9.0"  # what both require (the table's row for 3.8.0)
SENTENCE = "The pipeline reads this sentence. Then it reads another one."
SQUAT_VERSION = "999.9.9"
# Why a re-listing after a release gets no 304 (README: "What the template needs from GitHub").
NO_304 = "(no 304: a new release moves every page, and a download changes its page's ETag)"
# How pip reaches the index: kept from this machine, unlike the rest of its pip configuration.
TRANSPORT = ("PIP_CERT", "PIP_CLIENT_CERT", "PIP_PROXY", "PIP_DEFAULT_TIMEOUT", "PIP_CACHE_DIR")
# The locks a deployment installs with plain pip. pylock.toml (PEP 751) is not written by the
# template yet: when `make export` writes one, this step installs it too (the tools lock's pip
# reads it with -r, as experimental).
DEPLOY_LOCKS = ("requirements-deploy.txt", "pylock.toml")

# What the release's en_core_web_sm package does when spacy.load() calls its load(), as a real
# model's package does: it returns a spaCy pipeline for English, here with no trained weights
# (a rule-based sentencizer), so the wheel is a few kilobytes, built in milliseconds.
SPACY_MODEL_CODE = """

def load(**overrides):
    import spacy

    nlp = spacy.blank("en", meta={"name": "core_web_sm", "version": VERSION})
    nlp.add_pipe("sentencizer")
    return nlp
"""
# Run in an environment: spacy.load() the model and process a sentence.
LOAD_MODEL = f"""
import json, spacy
nlp = spacy.load({MODEL!r})
doc = nlp({SENTENCE!r})
print(json.dumps({{"spacy": spacy.__version__, "model": nlp.meta["version"],
                  "pipeline": nlp.pipe_names, "tokens": len(doc),
                  "sentences": [s.text for s in doc.sents]}}))
"""


class StepFailed(Exception):
    """A command of a step failed: the step cannot show its claim, and later steps need it."""


@dataclass
class Step:
    """One step of the tour: its claim, how long it took, its evidence and checks."""

    claim: str
    seconds: float = 0.0
    evidence: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.checks) and all(self.checks.values())

    def show(self, line: str) -> None:
        self.evidence.append(line)

    def check(self, name: str, holds: bool, line: str | None = None) -> None:
        """Record that ``name`` holds (or not), and show ``line`` as evidence."""
        self.checks[name] = holds
        if line is not None:
            self.evidence.append(line if holds else f"NOT SO: {line}")


class Demo:
    """The throwaway folder, the stand-in, and the commands run in the project."""

    def __init__(self, folder: Path, github: GitHubStandIn) -> None:
        self.folder = folder
        self.github = github
        self.log = (folder / "log.txt").open("w")
        self.log_lock = threading.Lock()
        self.env = project_env(github)
        self.project = Project(folder / "project", github, self.env, [])

    def run(
        self,
        *command: str,
        cwd: Path | None = None,
        ok: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the project (or ``cwd``), logging its output; unless ``ok`` is
        False, a failure stops the step."""
        where = cwd or self.project.path
        begun = time.monotonic()
        result = subprocess.run(
            command, cwd=where, env=env or self.env, capture_output=True, text=True, check=False
        )
        took = time.monotonic() - begun
        with self.log_lock:  # two steps run side by side
            self.log.write(
                f"\n$ cd {where} && {' '.join(command)}\n# exit {result.returncode}, {took:.1f} s\n"
            )
            self.log.write(result.stdout + result.stderr)
            self.log.flush()
        if ok and result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise StepFailed(f"`{' '.join(command)}` failed: " + " / ".join(tail))
        return result

    def make(
        self,
        *targets: str,
        cwd: Path | None = None,
        ok: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``make TARGETS`` in the project (or ``cwd``)."""
        return self.run("make", "--no-print-directory", *targets, cwd=cwd, ok=ok, env=env)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return self.run("git", *args, cwd=cwd).stdout

    def load_model(self, venv: Path) -> dict[str, Any]:
        """What ``spacy.load()`` of the model gives in ``venv``: versions, pipeline, a sentence."""
        result = self.run(str(venv / "bin/python"), "-c", LOAD_MODEL, cwd=self.folder)
        loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return loaded

    def api_requests(self) -> int:
        return len(self.github.api_requests())

    def fetches(self, filename: str, by_pip: bool) -> int:
        """GETs of the release file ``filename`` at its public download URL, by pip (its
        User-Agent starts ``pip/``) or by the template: steps that run side by side share the
        stand-in."""
        return sum(
            1
            for r in self.github.requests
            if r.host == "web"
            and r.path.endswith(f"/{filename}")
            and r.headers.get("user-agent", "").startswith("pip/") == by_pip
        )


def project_env(github: GitHubStandIn) -> dict[str, str]:
    """The project's environment: this machine's, without its pip, uv, GitHub and make settings
    (how pip reaches the index aside), pointed at the stand-in, with the template's tools."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(MINE) or k in TRANSPORT}
    env |= GIT_ENV | {
        "PIP_CONFIG_FILE": os.devnull,  # no pip configuration file is read
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "GITHUB_API_URL": github.api_url,
        "TOOLS_VENV": sys.prefix,
    }
    if os.environ.get("DEMO_INDEX_URL"):
        env["PIP_INDEX_URL"] = os.environ["DEMO_INDEX_URL"]
    return env


def share_tools(project: Path) -> None:
    """Let ``project`` use the running tools environment, made from this very lock: make its
    inputs as old as the environment's marker, so make does not install the tools again (as
    e2e.make_project does)."""
    made = (Path(sys.prefix) / ".installed").stat().st_mtime - 1
    for name in ("requirements-tools.txt", ".python-version"):
        os.utime(project / name, (made, made))


def model_wheel(folder: Path, version: str) -> Path:
    """The release file of en_core_web_sm ``version``: a spaCy package spacy.load() loads."""
    return make_wheel(folder, MODEL, version, [SPACY_RANGE], code=SPACY_MODEL_CODE)


def publish(github: GitHubStandIn, wheel: Path, created_at: datetime | None = None) -> None:
    """Publish ``wheel`` as its release (``MODEL-VERSION``), with its checksum file and, like
    spaCy's assets, no API digest."""
    version = wheel.name.split("-")[1]
    files = {
        wheel.name: wheel.read_bytes(),
        f"{MODEL}-{version}.sha256": hashlib.sha256(wheel.read_bytes()).hexdigest().encode(),
    }
    github.add_release(REPO, f"{MODEL}-{version}", files, digest=False, created_at=created_at)


def pins(lock: str) -> dict[str, str]:
    """``name: version`` of each pin of a lock."""
    return dict(re.findall(r"^([A-Za-z0-9][\w.-]*)==(\S+) \\$", lock, re.MULTILINE))


def locked(lock: str) -> dict[str, tuple[str, list[str]]]:
    """``name: (version, hashes)`` of each pin of a lock."""
    return {name: (version, hashes_of(lock, name)) for name, version in pins(lock).items()}


def hashes_of(lock: str, name: str) -> list[str]:
    """The sha256 hashes a lock gives ``name``."""
    block = lock.split(f"\n{name}==", 1)[1].split("\n# via", 1)[0].split("\n    # via", 1)[0]
    return re.findall(r"--hash=sha256:([0-9a-f]{64})", block)


def installed_versions(venv: Path, name: str) -> list[str]:
    """The versions of ``name`` installed in ``venv``, by their .dist-info folders."""
    found = venv.glob(f"lib/python*/site-packages/{name}-*.dist-info")
    return [folder.name.removesuffix(".dist-info").split("-")[1] for folder in found]


def lines_with(text: str, *needles: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if any(n in line for n in needles)]


def shorter(path: Path) -> Path:
    """``path`` relative to the template's checkout, where it is in it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the steps ----------------------------------------------------------------------------------


def set_up(demo: Demo, step: Step) -> None:
    count = demo.github.load_spacy_models(REPO)
    # The release's wheel becomes a spaCy package; its checksum file follows it.
    wheel = model_wheel(demo.folder / "releases", FIRST)
    tag = f"{MODEL}-{FIRST}"
    demo.github.replace_asset(REPO, tag, wheel.name, wheel.read_bytes(), digest=False)
    sums = hashlib.sha256(wheel.read_bytes()).hexdigest().encode()
    demo.github.replace_asset(REPO, tag, f"{MODEL}-{FIRST}.sha256", sums, digest=False)
    step.show(
        f"stand-in of GitHub at {demo.github.api_url}: {count} real {REPO} releases "
        f"(GitHub's listing reaches the newest 1,000)"
    )
    step.show(f"{wheel.name}: a spaCy package of {wheel.stat().st_size:,} bytes, built just now")
    render_template(demo.project.path)
    share_tools(demo.project.path)
    requirements = (demo.project.path / "requirements.in").read_text()
    ranges = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    step.show(
        f"copier made {shorter(demo.project.path)}/: requirements.in asks for " + ", ".join(ranges)
    )
    step.facts |= {"releases": count, "model": MODEL, "version": FIRST}
    step.check("releases past the cap", count > 1000)
    step.check("a project", (demo.project.path / "Makefile").is_file())


def first_install(demo: Demo, step: Step) -> None:
    wheel = f"{MODEL}-{FIRST}-py3-none-any.whl"
    result = demo.make("install")
    output = result.stdout + result.stderr
    for line in lines_with(output, "API requests", "GitHub lists only"):
        step.show(line)
    requests_made = demo.api_requests()
    step.check("listed", requests_made > 0, f"the stand-in answered {requests_made} API requests")
    downloads = demo.github.downloads(wheel)
    step.check("fetched once", downloads == 1, f"{wheel} downloaded {downloads} time(s)")
    lock = demo.project.read("requirements.txt")
    pinned = pins(lock)
    unhashed = [name for name in pinned if not hashes_of(lock, name)]
    step.check(
        "pins and hashes",
        bool(pinned) and not unhashed,
        f"requirements.txt: {len(pinned)} pins, each with its sha256 hashes"
        + (f" (none for {', '.join(unhashed)})" if unhashed else ""),
    )
    release = demo.folder / "releases" / wheel
    model_hashes = hashes_of(lock, "en-core-web-sm")
    step.check(
        "the release's hash",
        model_hashes == [sha256(release)],
        f"en-core-web-sm=={pinned.get('en-core-web-sm')} hashed as its release file alone "
        f"(sha256:{model_hashes[0][:16] if model_hashes else '?'}…), "
        f"spacy=={pinned.get('spacy')}",
    )
    venv = demo.project.path / ".venv"
    step.check(".venv", (venv / ".synced").is_file(), ".venv made and synced from the lock")
    loaded = demo.load_model(venv)
    sentences = loaded["sentences"]
    step.check(
        "the model loads",
        loaded["model"] == FIRST and len(sentences) == 2,
        f"spacy.load({MODEL!r}) in .venv: spaCy {loaded['spacy']}, model {loaded['model']}, "
        f"pipeline {loaded['pipeline']}: {loaded['tokens']} tokens and {len(sentences)} "
        f"sentences in {SENTENCE!r}",
    )
    demo.git("init", "-q", "-b", "main")
    demo.git("add", "-A")
    demo.git("commit", "-q", "-m", "Start from the template")
    step.show("committed (git init, add, commit), as the README says")
    step.facts |= {
        "api_requests": requests_made,
        "downloads": downloads,
        "pins": len(pinned),
        "loaded": loaded,
    }


def guard(demo: Demo, step: Step) -> None:
    marker = demo.folder / "SQUATTER-WAS-BUILT"
    sdist = make_marker_sdist(demo.folder / "squat", "en-core-web-sm", SQUAT_VERSION, marker)
    index = write_simple_index(demo.folder / "squat-index", [sdist])
    squatted = demo.env | {"PIP_EXTRA_INDEX_URL": index}
    step.show(f"a local index offers {sdist.name}, whose build writes {marker.name}")
    # The control: plain pip-compile, with the same links page and index, runs its code.
    control = demo.folder / "control"
    control.mkdir()
    (control / "requirements.in").write_text(f"{MODEL}\n")
    demo.run(
        str(TOOLS / "python"),
        "-m",
        "piptools",
        "compile",
        "--quiet",
        "--find-links",
        str(demo.project.path / "build/model-links.html"),
        "-o",
        str(control / "plain.txt"),
        str(control / "requirements.in"),
        cwd=control,
        env=squatted,
        ok=False,
    )
    built = marker.exists()
    step.check(
        "the attack is real",
        built,
        f"control: plain pip-compile of a bare {MODEL} built it ({marker.name} written)",
    )
    marker.unlink(missing_ok=True)
    before = demo.project.read("requirements.txt")
    requirements_in = demo.project.read("requirements.in")
    demo.project.write("requirements.in", requirements_in.replace(f"{MODEL}>=3.8.0,<3.9.0", MODEL))
    demo.make("install", env=squatted)
    lock = demo.project.read("requirements.txt")
    step.check(
        "never built",
        not marker.exists(),
        f"make install with a bare {MODEL} and that index: {marker.name} absent",
    )
    release = demo.folder / "releases" / f"{MODEL}-{FIRST}-py3-none-any.whl"
    kept = pins(lock).get("en-core-web-sm") == FIRST and hashes_of(lock, "en-core-web-sm") == [
        sha256(release)
    ]
    step.check(
        "the lock keeps the release",
        kept,
        f"the lock keeps en-core-web-sm=={FIRST} with its release file's hash alone",
    )
    # The range back: the committed files, which make finds up to date (nothing compiled).
    demo.git("checkout", "--", "requirements.in", "requirements.txt")
    demo.make("install")
    same = locked(lock) == locked(before)
    step.check("the same lock", same, "its pins and hashes are the committed lock's, every one")
    step.facts |= {"marker": str(marker), "marker_exists": marker.exists(), "control_built": built}


def hand_edit(demo: Demo, step: Step) -> None:
    lock = demo.project.read("requirements.txt")
    spacy = pins(lock)["spacy"]
    edited = lock.replace(f"\nspacy=={spacy} \\", "\nspacy==3.8.0 \\")
    demo.project.write("requirements.txt", edited)
    step.show(f"requirements.txt edited by hand: spacy=={spacy} -> spacy==3.8.0")
    refused = demo.make("install", ok=False)
    message = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    for line in message:
        step.show(f"make install: {line}")
    step.check(
        "refused",
        refused.returncode != 0 and "was changed since make wrote it" in refused.stderr,
        f"make install stopped (exit status {refused.returncode}) before pip read the lock",
    )
    step.check("no traceback", "Traceback" not in refused.stderr)
    installed = installed_versions(demo.project.path / ".venv", "spacy")
    step.check("nothing installed", installed == [spacy], f".venv still has spacy {spacy}")
    fix = "git checkout -- requirements.txt"
    step.check("the fix is given", fix in refused.stderr)
    demo.git("checkout", "--", "requirements.txt")
    demo.make("install")
    step.check(
        "the fix works",
        demo.project.read("requirements.txt") == lock,
        f"followed the fix ({fix}), make install runs",
    )
    step.facts |= {"exit": refused.returncode}


def upgrade(demo: Demo, step: Step) -> None:
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(days=8)
    wheel = model_wheel(demo.folder / "releases", NEW)
    publish(demo.github, wheel, created)
    tag = f"{MODEL}-{NEW}"
    answer = requests.get(f"{demo.github.api_url}/repos/{REPO}/releases/tags/{tag}", timeout=10)
    published = datetime.fromisoformat(answer.json()["published_at"].replace("Z", "+00:00"))
    age = datetime.now(UTC) - published
    step.check(
        "eight days old",
        timedelta(days=8) <= age < timedelta(days=8, hours=1),
        f"a new release appears: {tag} (made up: the table's newest is {FIRST}), published_at "
        f"{answer.json()['published_at']}, {age.days} days ago: a cooldown of a week lets it in",
    )
    fresh = model_wheel(demo.folder / "releases", HOUR_OLD)
    publish(demo.github, fresh, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    step.show(f"and {MODEL}-{HOUR_OLD}, published an hour ago: COOLDOWN (7 days) holds it back")
    result = demo.make("upgrade")
    for line in lines_with(result.stdout, "API requests"):
        step.show(line)
        if "0 served from cache" in line:
            step.show(NO_304)
    report = [line for line in result.stdout.splitlines() if line.startswith("|")]
    for line in report:
        step.show(line)
    lock = demo.project.read("requirements.txt")
    step.check("pinned", pins(lock).get("en-core-web-sm") == NEW, f"requirements.txt pins {NEW}")
    held = lines_with(result.stdout, f"- en-core-web-sm {HOUR_OLD} (uploaded ")
    for line in held:
        step.show(line)
    step.check(
        "held back",
        bool(held) and "# cooldown: uploaded before " in lock,
        f"not {HOUR_OLD}: the report lists it as held back by the cooldown, with the day an "
        "upgrade takes it; the lock seals the cutoff",
    )
    saved = demo.project.path / "build/upgrade-report.md"
    step.check(
        "the report",
        any(FIRST in line and NEW in line for line in report) and saved.is_file(),
        f"make upgrade printed its report (saved as {saved.relative_to(demo.project.path)})",
    )
    # The copy's own first test (tests/test_environment.py): every pin installed, and each model
    # loads and processes a sentence.
    tests = lines_with(result.stdout, " passed")
    step.check(
        "the tests",
        bool(tests) and " failed" not in result.stdout,
        "make test (each pin installed, the model loads): "
        + (tests[-1].strip("= ") if tests else "no result"),
    )
    step.check("installed", installed_versions(demo.project.path / ".venv", MODEL) == [NEW])
    demo.git("commit", "-q", "-am", "chore: monthly upgrade")
    step.facts |= {
        "age_days": age.days,
        "pinned": pins(lock).get("en-core-web-sm"),
        "held_back": HOUR_OLD if held else "",
    }


def teammate(demo: Demo, step: Step) -> None:
    wheel = f"{MODEL}-{NEW}-py3-none-any.whl"
    clone = demo.folder / "teammate"
    demo.git("clone", "-q", str(demo.project.path), str(clone), cwd=demo.folder)
    share_tools(clone)
    step.show(f"git clone into {shorter(clone)}/: no build/, no .venv")
    api_before, gets_before = demo.api_requests(), demo.fetches(wheel, by_pip=False)
    result = demo.make("install", cwd=clone)
    # make export runs beside: it asks the API nothing either, and its pip's GETs are its own.
    api = demo.api_requests() - api_before
    gets = demo.fetches(wheel, by_pip=False) - gets_before
    step.check("0 API requests", api == 0, f"{api} API requests")
    step.check(
        "fetched once", gets == 1, f"{wheel} fetched {gets} time(s), from the URL the lock records"
    )
    cached = (clone / "build/release-files" / wheel).is_file()
    step.check("kept", cached, f"kept in {shorter(clone)}/build/release-files/ for the next time")
    compiled = "pip-compile" in result.stdout + result.stderr
    step.check("no compile", not compiled, "the lock was used as committed: nothing compiled")
    loaded = demo.load_model(clone / ".venv")
    step.check(
        "the model loads",
        loaded["model"] == NEW,
        f"spacy.load({MODEL!r}) in the clone's .venv: model {loaded['model']}",
    )
    clean = demo.git("status", "--porcelain", cwd=clone) == ""
    step.check("nothing changed", clean, "git status: nothing tracked changed")
    step.facts |= {"api_requests": api, "downloads": gets, "loaded": loaded}


def export(demo: Demo, step: Step) -> None:
    demo.make("export")
    deploy = demo.project.read("requirements-deploy.txt")
    references = lines_with(deploy, " @ ")
    for line in references:
        step.show("requirements-deploy.txt: " + line.removesuffix(" \\").strip())
    # A Dockerfile's `pip install`: a fresh environment, its own pip, no pip configuration (no
    # file, no PIP_* variable: no links page, no extra index), no token.
    env = {k: v for k, v in demo.env.items() if not k.startswith(("PIP_", "GITHUB_"))}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env |= {k: demo.env[k] for k in ("PIP_INDEX_URL",) if k in demo.env}  # DEMO_INDEX_URL
    api_before = demo.api_requests()
    for name in DEPLOY_LOCKS:
        lock = demo.project.path / name
        if not lock.is_file():
            step.show(f"{name}: not written by the template yet")
            continue
        venv = demo.folder / f"deployed-{name.split('.')[0]}"
        # No ensurepip: pip (the tools lock's, a plain pip) installs into it with --python.
        demo.run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=demo.folder)
        pip = [str(TOOLS / "python"), "-m", "pip", "--python", str(venv / "bin/python")]
        demo.run(*pip, "install", "--quiet", "--require-hashes", "-r", str(lock), env=env)
        loaded = demo.load_model(venv)
        step.check(
            f"{name} installs",
            loaded["model"] == NEW,
            f"plain pip install -r {name} into a fresh environment with no configuration: "
            f"spacy.load gives model {loaded['model']}, spaCy {loaded['spacy']}",
        )
    api = demo.api_requests() - api_before
    step.check("no API request", api == 0, f"{api} API requests (and no token)")


# The steps, in order: name, claim (in the words of issue 20's list), and what runs it. The last
# two run side by side, on two cores: each installs a fresh environment from the committed lock
# and neither needs what the other makes.
STEPS: list[list[tuple[str, str, Callable[[Demo, Step], None]]]] = [
    [
        (
            "set-up",
            "a project made with copier, and a stand-in of GitHub listing the real releases",
            set_up,
        )
    ],
    [
        (
            "install",
            "make install: releases listed, the model fetched once, the lock's pins and "
            "hashes, .venv made; the model loads and processes a sentence",
            first_install,
        )
    ],
    [
        (
            "guard",
            f"the guard: a squatting en-core-web-sm {SQUAT_VERSION} sdist on a local index is "
            "never built, and the lock keeps the release",
            guard,
        )
    ],
    [("hand edit", "a hand edit of requirements.txt is refused, with the fix", hand_edit)],
    [
        (
            "upgrade",
            "a new release, eight days old, appears; make upgrade pins it and prints its report",
            upgrade,
        )
    ],
    [
        (
            "clone",
            "a teammate's git clone + make install: 0 API requests, the file fetched once",
            teammate,
        ),
        (
            "export",
            "make export: plain pip installs requirements-deploy.txt into a fresh "
            "environment with no configuration",
            export,
        ),
    ],
]


def cpu_seconds() -> float:
    """The CPU time this process and the commands it waited for have used so far."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def run_step(demo: Demo, step: Step, run: Callable[[Demo, Step], None]) -> None:
    """Run one step, timing it; a failure is recorded in the step, never raised."""
    begun = time.monotonic()
    try:
        run(demo, step)
    except StepFailed as error:
        step.error = str(error)
    except Exception as error:  # the demo's own fault: still say which step, and sum up
        step.error = f"{type(error).__name__}: {error}"
    step.seconds = time.monotonic() - begun


def run_steps(demo: Demo) -> list[tuple[str, Step]]:
    """Run the steps in order (a group's side by side), printing each one's claim, time and
    evidence; after a failure, the rest are not run (each needs what the ones before made)."""
    steps: list[tuple[str, Step]] = []
    for group in STEPS:
        begun = len(steps)
        steps += [(name, Step(claim)) for name, claim, _ in group]
        if begun and not all(step.ok for _, step in steps[:begun]):
            for _, step in steps[begun:]:
                step.error = "not run: a step before it failed"
            continue
        if sys.stdout.isatty():
            names = " and ".join(f"{begun + n}. {name}" for n, (name, _, _) in enumerate(group))
            print(f"     running {names}...", end="\r", flush=True)
        threads = [
            threading.Thread(target=run_step, args=(demo, step, run))
            for (_, step), (_, _, run) in zip(steps[begun:], group, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for number, (_, step) in enumerate(steps[begun:], begun):
            print(f"{'ok  ' if step.ok else 'FAIL'} {number}. {step.claim} ({step.seconds:.1f} s)")
            for line in step.evidence + ([step.error] if step.error else []):
                print(f"       {line}")
            print()
    return steps


def main(argv: list[str]) -> int:
    folder = Path(argv[0]).resolve() if argv else ROOT / "build/demo"
    if folder.exists():
        shutil.rmtree(folder)  # a second run starts clean
    folder.mkdir(parents=True)
    load_before, started = os.getloadavg()[0], time.monotonic()
    print(
        f"make demo: a copy of the template lives its life in {shorter(folder)}/, against a "
        "stand-in of GitHub (no GitHub, no token), with packages from the index\n"
    )
    with run_standin() as github:
        demo = Demo(folder, github)
        steps = run_steps(demo)
        demo.log.close()
    seconds = time.monotonic() - started
    cpu = cpu_seconds()
    load = (load_before, os.getloadavg()[0])
    shown = sum(step.ok for _, step in steps)
    print("Summary")
    for number, (name, step) in enumerate(steps):
        mark = "ok  " if step.ok else "FAIL" if step.seconds else "--  "  # -- : not run
        print(f"  {mark} {number}. {name:<9} {step.seconds:5.1f} s  {step.claim}")
    numbered = dict(zip((name for name, _ in steps), range(len(steps)), strict=True))
    for group in (group for group in STEPS if len(group) > 1):
        beside = " and ".join(f"{numbered[name]}. {name}" for name, _, _ in group)
        print(f"  ({beside} ran side by side)")
    print(
        f"{shown} of {len(steps)} steps showed what they claim, in {seconds:.0f} s ({cpu:.0f} s "
        f"of CPU) on {os.cpu_count()} cores, load average {load[0]:.1f} before and "
        f"{load[1]:.1f} after; every command's output is in {shorter(folder / 'log.txt')}"
    )
    summary = {
        "ok": shown == len(steps),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "cores": os.cpu_count(),
        "load": load,
        "steps": [
            {
                "name": name,
                "claim": step.claim,
                "ok": step.ok,
                "seconds": round(step.seconds, 1),
                "checks": step.checks,
                "facts": step.facts,
                "error": step.error,
            }
            for name, step in steps
        ],
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return 0 if shown == len(steps) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
