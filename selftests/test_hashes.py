"""scripts/hashes.py: a pin's hashes from what its sources say, files read only when they say
nothing (pip-compile would download every file of a version on an index without PyPI's JSON)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from scripts import hashes

SAID = "a" * 64  # a hash the index gives: used as it is, the file never read


def test_an_index_page_gives_hashes_and_an_unhashed_local_file_is_read(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for name in ("tool-1.0-py3-none-any.whl", "tool-1.0.tar.gz", "tool-2.0-py3-none-any.whl"):
        (files / name).write_bytes(name.encode())
    page = tmp_path / "simple/tool/index.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        f'<a href="{(files / "tool-1.0-py3-none-any.whl").as_uri()}#sha256={SAID}">w</a>\n'
        f'<a href="../../files/tool-1.0.tar.gz">s</a>\n'
        f'<a href="{(files / "tool-2.0-py3-none-any.whl").as_uri()}#sha256={"b" * 64}">2</a>\n'
    )

    found = hashes.pinned_hashes({"tool": "1.0"}, [(tmp_path / "simple").as_uri()], [])

    assert found == {"tool": {SAID, hashlib.sha256(b"tool-1.0.tar.gz").hexdigest()}}


def test_a_find_links_folder_and_a_pep_691_page(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels/local_model-0.3-py3-none-any.whl").write_bytes(b"m")
    base = "https://index.example/simple/other/"
    data = {"files": [{"url": "../../files/other-1.0.tar.gz", "hashes": {"sha256": SAID}}]}

    assert hashes.from_json(data, base) == [
        ("https://index.example/files/other-1.0.tar.gz", SAID, None)
    ]
    found = hashes.pinned_hashes({"local-model": "0.3"}, [], [str(tmp_path / "wheels")])
    assert found == {"local-model": {hashlib.sha256(b"m").hexdigest()}}
    assert hashes.pinned_hashes({"absent": "1.0"}, [], [str(tmp_path / "wheels")]) == {}
