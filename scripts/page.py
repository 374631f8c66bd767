"""The find-links pages pip reads: the only code that writes them.

build/model-links.html links every release file the listing found; build/resolver-links.html
links only those of the release packages a compile can reach, so the resolver weighs a handful
of links, not every file of every release. A file already fetched into build/release-files/ (and
recorded in its SHA256SUMS) is linked by its local path with the recorded hash, so pip reads it
from disk, never twice from GitHub; any other links to GitHub (``#sha256=`` when GitHub knows
the digest). Only ``cache.ReleaseFiles.render`` calls this, so the pages always match the cache.
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
    lines = []
    for asset in sorted_assets(assets):
        local = RELEASE_FILES / asset.filename
        if asset.filename in sums and local.is_file():
            relative = Path(os.path.relpath(local, path.parent)).as_posix()
            href = f"{quote(relative)}#sha256={sums[asset.filename]}"
        else:
            href = asset.url + (f"#sha256={asset.sha256}" if asset.sha256 else "")
        lines.append(f'<a href="{html.escape(href)}">{html.escape(asset.filename)}</a><br>\n')
    atomic_write_text(
        path,
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Model release files</title>\n</head>\n<body>\n"
        "<!-- Written by `python -m scripts` from the model releases; do not edit. -->\n"
        f"{''.join(lines)}</body>\n</html>\n",
    )
