"""Compare two compiled requirements files and write what changed as a Markdown table.

`make upgrade` keeps the old requirements.txt, recompiles, then runs this script: it prints the
table and saves it to build/upgrade-report.md, which the monthly workflow uses as the body of its
pull request. Packages are matched by their normalised name (en_core_web_sm, en-core-web-sm and
En.Core.Web_SM are one package) and environment marker; extras are ignored. Release packages
(those on the links page, listed in build/model-assets.json) are marked as such, and linked to
their release pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

import common
from model_links import read_manifest

EXAMPLES = """\
examples:
  python scripts/upgrade_report.py build/requirements-before.txt requirements.txt
  python scripts/upgrade_report.py old.txt new.txt -o build/upgrade-report.md
"""
ORDER = {"added": 0, "removed": 1, "upgraded": 2, "downgraded": 3, "changed": 4}

Pins = dict[tuple[str, str], str]  # (normalised name, marker) -> version


def read_pins(path: Path) -> Pins:
    """The ``name==version`` lines of a requirements file; an absent file has none."""
    if not path.is_file():
        return {}
    pins: Pins = {}
    for line in common.read_requirement_lines(path):
        if line.is_option:
            continue
        req = line.requirement(path)
        pin = line.pin()
        if pin is None:
            raise common.UserError(
                f"{path}:{line.number}: {line.text!r} is not pinned with ==; "
                "compare files written by `make requirements.txt`"
            )
        pins[(canonicalize_name(req.name), str(req.marker or ""))] = pin[1]
    return pins


def change(old: str | None, new: str | None) -> str:
    """added, removed, upgraded, downgraded or changed (versions that do not parse)."""
    if old is None:
        return "added"
    if new is None:
        return "removed"
    try:
        return "upgraded" if Version(new) > Version(old) else "downgraded"
    except InvalidVersion:
        return "changed"


Pages = dict[str, dict[str, str]]  # release package -> {version: its release page}


def report(before: Pins, after: Pins, release: Pages) -> str:
    """The Markdown report: one line when nothing changed, else a table sorted by kind and name.

    A release package's name links to the release page of its new version (of its old one
    when it was removed), where the release notes are.
    """
    rows = []
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        name, marker = key
        page = release.get(name, {}).get(str(new or old), "")
        label = (
            (f"[{name}]({page})" if page else name)
            + (" (release)" if name in release else "")
            + (f" ; {marker}" if marker else "")
        )
        rows.append((ORDER[change(old, new)], name, marker, change(old, new), label, old, new))
    if not rows:
        return "No package changed: every pin is as it was.\n"
    lines = [
        f"## Upgrade report: {len(rows)} package{'s' if len(rows) > 1 else ''} changed",
        "",
        "| package | change | old | new |",
        "| --- | --- | --- | --- |",
    ]
    for _, _, _, kind, label, old, new in sorted(rows):
        lines.append(f"| {label} | {kind} | {old or '-'} | {new or '-'} |")
    return "\n".join(lines) + "\n"


def release_packages(manifest: Path) -> Pages:
    """The packages on the links page with each version's release page (none without a
    manifest)."""
    pages: Pages = {}
    for asset in read_manifest(manifest) if manifest.is_file() else []:
        pages.setdefault(asset.project, {})[asset.version] = asset.page
    return pages


@common.guarded
def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(__doc__, EXAMPLES)
    parser.add_argument("before", type=Path, help="the old file (may be missing: all added)")
    parser.add_argument("after", type=Path, help="the new file")
    parser.add_argument("--manifest", type=Path, default=Path("build/model-assets.json"))
    parser.add_argument("-o", "--output", type=Path, help="also save the report here")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print the report")
    args = parser.parse_args(argv)
    try:
        if not args.after.is_file():
            raise common.UserError(f"{args.after} is missing: run `make requirements.txt`")
        text = report(
            read_pins(args.before), read_pins(args.after), release_packages(args.manifest)
        )
        if args.output:
            common.atomic_write_text(args.output, text)
    except common.UserError as exc:
        return common.error(str(exc))
    if not args.quiet:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
