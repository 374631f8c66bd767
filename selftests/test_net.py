"""scripts/net.py: the progress of a large download."""

from __future__ import annotations

import pytest

from scripts import net


def test_a_large_download_reports_progress_in_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    """In a CI log (no terminal) a large download prints a line per 10 %, not a bar."""
    progress = net.Progress("big.whl", 50 * 2**20)

    for done in range(0, 50 * 2**20 + 1, 2**20):
        progress.update(done)

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("  big.whl:  10 %") and lines[-1].startswith("  big.whl: 100 %")


def test_a_small_download_reports_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    progress = net.Progress("small.whl", 2**20)

    progress.update(2**20)

    assert capsys.readouterr().err == ""
