"""`make demo` (selftests/demo.py) shows what each of its steps claims, and only in the template.

The demo reaches the package index (PyPI) for spaCy and its dependencies, and nothing else: its
GitHub is the loopback stand-in. Each claim is checked here from what the demo left on disk and
in its summary, not from its own verdict alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from e2e import ROOT, copy_template

pytestmark = pytest.mark.e2e
STEPS = ["set-up", "install", "guard", "hand edit", "upgrade", "clone", "export"]


def test_the_demo_shows_every_claim(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    # What a first run left: a second run starts clean, so none of it may count.
    (folder / "project").mkdir(parents=True)
    (folder / "project/requirements.txt").write_text("left by an earlier run\n")
    (folder / "SQUATTER-WAS-BUILT").write_text("left by an earlier run\n")

    result = subprocess.run(
        [sys.executable, str(ROOT / "selftests/demo.py"), str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((folder / "summary.json").read_text())
    steps = {step["name"]: step for step in summary["steps"]}
    assert list(steps) == STEPS and summary["ok"]
    for name, step in steps.items():
        assert step["ok"] and step["checks"] and all(step["checks"].values()), name
    # The summary screen: one line a step, each ok, then the time and the load.
    screen = result.stdout.split("\nSummary\n", 1)[1].splitlines()
    assert [line.split()[:2] for line in screen[: len(STEPS)]] == [
        ["ok", f"{number}."] for number in range(len(STEPS))
    ]
    last = screen[-1]
    assert last.startswith(f"{len(STEPS)} of {len(STEPS)} steps showed what they claim, in ")
    assert "load average" in last and len(screen) < 20 and "Traceback" not in result.stderr
    # make install: the model fetched once, and it loads and processes the sentence.
    install = steps["install"]["facts"]
    assert install["downloads"] == 1 and install["api_requests"] > 0
    assert install["loaded"]["model"] == "3.8.0" and len(install["loaded"]["sentences"]) == 2
    # The guard: the squatter's marker absent, though the control shows its build writes it.
    guard = steps["guard"]["facts"]
    assert guard["control_built"] and not guard["marker_exists"]
    assert not Path(guard["marker"]).exists()
    # The upgrade pinned the new release, eight days old ...
    # ... and held back the one published an hour before it (COOLDOWN, 7 days).
    assert steps["upgrade"]["facts"] == {"age_days": 8, "pinned": "3.8.1", "held_back": "3.8.2"}
    # The teammate's clone: no API request, the release file fetched once, the model loads.
    clone = steps["clone"]["facts"]
    assert clone["api_requests"] == 0 and clone["downloads"] == 1
    assert clone["loaded"]["model"] == "3.8.1"
    code = "import spacy; print(len(list(spacy.load('en_core_web_sm')('One. Two.').sents)))"
    python = str(folder / "teammate/.venv/bin/python")
    loads = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    assert loads.stdout.strip() == "2"
    # make export: plain pip installed the deploy lock where nothing else is.
    assert (folder / "deployed-requirements-deploy/bin/python").is_file()


def test_a_copy_made_with_copier_has_no_demo_and_a_plain_copy_keeps_it(
    template_copy: Path, tmp_path: Path
) -> None:
    made = subprocess.run(
        ["make", "--no-print-directory", "demo"],
        cwd=template_copy,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 2
    assert "'demo' is neither a target" in made.stderr
    assert not (template_copy / "selftests").exists()

    plain = copy_template(tmp_path / "plain")
    help_text = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=plain,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "  demo " in help_text and (plain / "selftests/demo.py").is_file()
