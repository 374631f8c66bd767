"""End-to-end: `make audit` and the upgrade report's Security section in a copy of the template.

The copy's OSV_URL is the loopback stand-in of OSV's query API (selftests/osv_standin.py), which
serves advisories for the stand-in ``spacy`` of the local index; pip-audit asks it as it asks
OSV. The model, a release package, must be listed as not audited and never asked about.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from e2e import Project, publish_model
from osv_standin import Advisory

pytestmark = pytest.mark.e2e

TODAY = datetime.date.today()


def index_pins(project: Project) -> set[tuple[str, str]]:
    """(name, version) of every pin of both locks but the model's."""
    text = project.read("requirements.txt") + project.read("requirements-dev.txt")
    pins = set(re.findall(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", text))
    return {(name.lower(), version) for name, version in pins if name != "en-core-web-sm"}


def allow(project: Project, expires: datetime.date) -> None:
    project.write(
        "audit-allow.toml",
        "[[allow]]\n"
        'id = "GHSA-spcy-0001-aaaa"\n'
        'package = "spacy"\n'
        f"expires = {expires.isoformat()}\n"
        'reason = "only the CLI is affected, which the pipeline never runs"\n',
    )


def test_audit_finds_an_advisory_on_a_pin_names_the_fix_and_fails(project: Project) -> None:
    project.run("install")
    project.osv.advisories.append(
        Advisory("GHSA-spcy-0001-aaaa", "spacy", fixed="3.9.0", aliases=("CVE-2026-1234",))
    )

    result = project.run("audit", ok=False)

    assert result.returncode != 0
    finding = "audit: spacy 3.8.2: CVE-2026-1234 (GHSA-spcy-0001-aaaa), fixed in 3.9.0"
    assert finding in result.stdout
    assert "error: 1 advisory affects the pins above" in result.stderr
    # Every pin of both locks was asked about once, and counted; the model not at all.
    pins = index_pins(project)
    assert project.osv.queried() == pins and len(pins) > 3  # spacy and pytest's requirements
    locks = "requirements.txt and requirements-dev.txt"
    assert f"audit: {len(pins)} pins of {locks} audited against OSV (127.0.0.5:" in result.stdout
    assert "audit: not audited: en-core-web-sm 3.8.0 (a release package" in result.stdout
    assert "en-core-web-sm" not in str(project.osv.log)
    assert "Traceback" not in result.stderr

    allow(project, TODAY + datetime.timedelta(days=30))
    allowed = project.run("audit")

    assert "by audit-allow.toml entry 1)" in allowed.stdout
    assert "audit: no known advisory is open" in allowed.stdout

    allow(project, TODAY - datetime.timedelta(days=1))
    expired = project.run("audit", ok=False)

    assert expired.returncode != 0
    assert "audit-allow.toml entry 1 expired on" in expired.stdout


def test_upgrade_reports_the_advisories_it_fixes_and_those_still_open(
    project: Project, tmp_path: Path
) -> None:
    """The monthly upgrade of a copy, whole: it fixes one advisory, leaves one open, and the
    cooldown holds back a model released yesterday; the report says all three."""
    project.write("requirements.in", "spacy>=3.7,<3.8\nen_core_web_sm>=3.7.0,<3.9.0\n")
    project.run("install")  # spacy 3.7.5, the model 3.7.1
    yesterday = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    publish_model(project.github, tmp_path, "3.8.1", ">=3.8.0,<3.9.0", created_at=yesterday)
    project.osv.advisories += [
        Advisory("GHSA-spcy-fixd-0001", "spacy", fixed="3.8.0"),
        Advisory("GHSA-spcy-open-0002", "spacy", introduced="3.7.0", fixed="3.9.0"),
    ]
    before = project.run("audit", ok=False)
    assert "spacy 3.7.5: GHSA-spcy-fixd-0001, fixed in 3.8.0" in before.stdout
    assert "error: 2 advisories affect the pins above" in before.stderr

    # The fix the audit advises: widen the range, then upgrade.
    project.write("requirements.in", "spacy>=3.7,<3.9\nen_core_web_sm>=3.7.0,<3.9.0\n")
    project.run("upgrade")

    report = (project.path / "build/upgrade-report.md").read_text()
    security = report.split("### Security\n")[1]
    fixed, open_ = security.split("Still open (on a new pin):")
    assert "- spacy 3.7.5: GHSA-spcy-fixd-0001, fixed in 3.8.0 (now 3.8.2)" in fixed
    assert "GHSA-spcy-open-0002" not in fixed
    assert "- spacy 3.8.2: GHSA-spcy-open-0002, fixed in 3.9.0" in open_
    assert "- en-core-web-sm 3.8.0: a release package, not on PyPI" in open_
    assert "en-core-web-sm==3.8.0 \\" in project.read("requirements.txt")  # not yesterday's
    held = report.split("Held back by the cooldown")[1]
    assert "- en-core-web-sm 3.8.1 (uploaded " in held
    after = project.run("audit", ok=False)
    assert "GHSA-spcy-fixd-0001" not in after.stdout
    assert "error: 1 advisory affects the pins above" in after.stderr
