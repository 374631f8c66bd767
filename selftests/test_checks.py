"""scripts/checks.py on crafted locks, in-process (the end-to-end tests run `make verify`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.assets import Asset
from scripts.checks import lock_problems
from scripts.requirements import seal

H1, H2 = "1" * 64, "2" * 64
MODEL = Asset(
    "en-core-web-sm",
    "3.8.0",
    "en_core_web_sm-3.8.0-py3-none-any.whl",
    "https://example.org/m.whl",
    H1,
    "explosion/spacy-models",
    "t",
    False,
)


def problems(tmp_path: Path, text: str, sealed: bool = True) -> list[str]:
    path = tmp_path / "requirements.txt"
    path.write_text(seal(text) if sealed else text)
    return lock_problems(path, [MODEL], {})


def test_a_lock_changed_after_make_wrote_it_is_refused(tmp_path: Path) -> None:
    text = f"en-core-web-sm==3.8.0 \\\n    --hash=sha256:{H1}\n"
    path = tmp_path / "requirements.txt"
    path.write_text(seal(text).replace("3.8.0", "3.8.0 ; python_version > '3'"))

    found = lock_problems(path, [MODEL], {})

    assert len(found) == 1 and "was changed since make wrote it" in found[0]
    assert "`make lock`" in found[0] and "git checkout -- " in found[0]
    assert "has no `# lock sha256:` line" in problems(tmp_path, text, sealed=False)[0]


def test_a_good_file_has_no_problem(tmp_path: Path) -> None:
    text = f"--only-binary en-core-web-sm\n\nen-core-web-sm==3.8.0 \\\n    --hash=sha256:{H1}\n"
    text += f"spacy==3.8.2 \\\n    --hash=sha256:{H2}\n    # via en-core-web-sm\n"

    assert problems(tmp_path, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spacy=>3.8 \\\n    --hash=sha256:" + H2 + "\n", "requirements.txt:1: 'spacy=>3.8'"),
        ("-i https://pypi.example/simple\n", "requirements.txt:1: names a package source (-i)"),
        ("spacy==3.8.2\n", "requirements.txt:1: spacy==3.8.2 has no --hash"),
        ("# https://ann:pw@host/simple\n", "requirements.txt:1: holds a credential"),
        ("spacy @ https://x/spacy-3.8.2.tar.gz --hash=sha256:" + H2 + "\n", "is not pinned"),
        ("en-core-web-sm==3.7.0 --hash=sha256:" + H1 + "\n", "is not a version the releases"),
        ("en-core-web-sm==3.8.0 --hash=sha256:" + H2 + "\n", "carries hashes ['" + H2),
    ],
)
def test_each_problem_is_named_with_its_line(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)

    assert len(found) == 1 and expected in found[0], found
    assert "pw@" not in found[0]
