"""`make sbom` (scripts/sbom.py): a CycloneDX bill of materials of requirements.txt that
validates against the schema (cyclonedx-python-lib's own validator) and is the same bytes twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from e2e import WHEEL_380, Project
from scripts.__main__ import main
from test_audit import LOCK, RELEASE


def components(path: Path) -> dict[str, dict]:
    return {c["bom-ref"]: c for c in json.loads(path.read_text())["components"]}


def test_every_pin_is_a_component_with_purl_and_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text(LOCK.replace("1" * 64, "2" * 64, 1))

    assert main(["sbom"]) == 0

    assert capsys.readouterr().out == "build/sbom.cdx.json\n"
    sbom = Path("build/sbom.cdx.json")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.read_text()) is None
    found = components(sbom)
    assert sorted(found) == [
        "en-core-web-sm==3.8.0",
        "numpy==1.26.4",
        "numpy==2.1.0",
        "pywin32==306",
        "requests==2.31.0",
        "spacy==3.8.2",
        "tomli==2.0.1",
    ]
    model = found["en-core-web-sm==3.8.0"]
    assert model["purl"] == f"pkg:pypi/en-core-web-sm@3.8.0?download_url={RELEASE}"
    assert model["externalReferences"] == [{"type": "distribution", "url": RELEASE}]
    assert model["hashes"] == [{"alg": "SHA-256", "content": "2" * 64}]
    assert found["requests==2.31.0"]["purl"] == "pkg:pypi/requests@2.31.0"
    assert "externalReferences" not in found["requests==2.31.0"]
    data = json.loads(sbom.read_text())
    assert "timestamp" not in data["metadata"]


def test_the_serial_number_follows_the_lock(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text(LOCK)
    main(["sbom"])
    first = json.loads(Path("build/sbom.cdx.json").read_text())["serialNumber"]
    Path("requirements.txt").write_text(LOCK.replace("spacy==3.8.2", "spacy==3.8.3"))

    main(["sbom"])

    assert json.loads(Path("build/sbom.cdx.json").read_text())["serialNumber"] != first
    assert first.startswith("urn:uuid:")


def test_a_missing_lock_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["sbom"]) == 1

    err = capsys.readouterr().err
    assert err == "error: requirements.txt is missing: run `make requirements.txt` first\n"
    assert not Path("build/sbom.cdx.json").exists()


@pytest.mark.e2e
def test_make_sbom_twice_gives_the_same_valid_bytes(project: Project) -> None:
    project.run("requirements.txt")

    first = project.run("sbom")
    made = (project.path / "build/sbom.cdx.json").read_bytes()
    second = project.run("sbom")

    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1] == "build/sbom.cdx.json"
    assert (project.path / "build/sbom.cdx.json").read_bytes() == made
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(made.decode()) is None
    found = components(project.path / "build/sbom.cdx.json")
    assert sorted(found) == ["en-core-web-sm==3.8.0", "spacy==3.8.2"]
    lock = project.read("requirements.txt")
    model = found["en-core-web-sm==3.8.0"]
    url = f"{project.github.url}/explosion/spacy-models/releases/download/en_core_web_sm-3.8.0/"
    assert {"type": "distribution", "url": url + WHEEL_380} in model["externalReferences"]
    for component in found.values():
        assert component["hashes"]
        for digest in component["hashes"]:
            assert f"--hash=sha256:{digest['content']}" in lock
