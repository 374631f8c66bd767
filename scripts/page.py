"""The find-links pages pip reads: the only code that writes them.

build/model-links.html links every release file the listing found; build/resolver-links.html
links only those of the release packages a compile can reach, so the resolver weighs a handful
of links, not every file of every release; build/release-files.html links every fetched file,
for pip-sync (in a fresh clone too, which lists nothing). A file already fetched into
build/release-files/ (and recorded in its SHA256SUMS) is linked by its local path with the
recorded hash, so pip reads it from disk, never twice from GitHub; any other links to GitHub
(``#sha256=`` when GitHub knows the digest). Only the cache (cache.py) calls this, whenever it
changes, so the pages always match it.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

from .assets import Asset, sorted_assets
from .files import atomic_write_text
from .settings import RELEASE_FILES


def write(path: Path, assets: Iterable[Asset], sums: Mapping[str, str]) -> None:
    """Write the find-links page of ``assets`` to ``path``, atomically."""
    links: dict[str, str] = {}
    for asset in sorted_assets(assets):
        if not _local(path, asset.filename, sums, links):
            links[asset.filename] = asset.url + (f"#sha256={asset.sha256}" if asset.sha256 else "")
    _write(path, links)


def write_files(path: Path, sums: Mapping[str, str]) -> None:
    """Write the find-links page of every fetched release file (``sums``) to ``path``."""
    links: dict[str, str] = {}
    for filename in sorted(sums):
        _local(path, filename, sums, links)
    _write(path, links)


def _local(path: Path, filename: str, sums: Mapping[str, str], links: dict[str, str]) -> bool:
    """Link ``filename`` by its local path and recorded hash when it is fetched and recorded:
    pip then prefers it to any other file of that name and version, and reads it from disk."""
    local = RELEASE_FILES / filename
    if filename not in sums or not local.is_file():
        return False
    links[filename] = (
        f"{quote(Path(os.path.relpath(local, path.parent)).as_posix())}#sha256={sums[filename]}"
    )
    return True


def _write(path: Path, links: Mapping[str, str]) -> None:
    """Write a page of ``links`` ({file name: href}, in their order), atomically."""
    lines = [
        f'<a href="{html.escape(href)}">{html.escape(name)}</a><br>\n'
        for name, href in links.items()
    ]
    atomic_write_text(
        path,
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Model release files</title>\n</head>\n<body>\n"
        "<!-- Written by `python -m scripts` from the model releases; do not edit. -->\n"
        f"{''.join(lines)}</body>\n</html>\n",
    )
