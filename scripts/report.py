"""The upgrade report: what changed between two locks, as a Markdown table, and its security.

`make upgrade` keeps the old requirements.txt, recompiles, then writes this report: it prints the
table and saves it to build/upgrade-report.md, which the monthly workflow uses as the body of its
pull request. Packages are matched by their normalised name (en_core_web_sm, en-core-web-sm and
En.Core.Web_SM are one package) and environment marker; extras are ignored. Release packages
(those in the listing, build/model-assets.json) are marked as such, and linked to their release
pages.

Its Security section asks OSV (as `make audit` does, audit.py) about the old and the new pins at
once: the advisories this upgrade fixes (on an old pin, on no new pin of that package), those
still open (on a new pin; an audit-allow.toml entry that allows one is named), and the release
packages, not audited. When the advisory service does not answer, the section says so and the
report is written all the same: `make audit` (CI, the weekly audit) fails on it visibly.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from packaging.version import InvalidVersion, Version

from . import audit
from .assets import Asset
from .errors import UserError
from .files import atomic_write_text
from .requirements import requirement_lines

ORDER = {"added": 0, "removed": 1, "upgraded": 2, "downgraded": 3, "changed": 4}

Pins = dict[tuple[str, str], str]  # (normalised name, marker) -> version


def pins_by_marker(path: Path) -> Pins:
    """{(name, marker): version} of the ``name==version`` lines of a lock; an absent file has
    none."""
    pins: Pins = {}
    for line, req, pin in requirement_lines(path) if path.is_file() else []:
        if pin is None:
            raise UserError(
                f"{path}:{line.number}: {line.text!r} is not pinned with ==; "
                "compare files written by `make requirements.txt`"
            )
        pins[(pin[0], str(req.marker or ""))] = pin[1]
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


def release_packages(assets: Sequence[Asset]) -> Pages:
    """The release packages of the listing, with each version's release page."""
    pages: Pages = {}
    for asset in assets:
        pages.setdefault(asset.project, {})[asset.version] = asset.page
    return pages


def security(
    before: Path,
    after: Path,
    osv_url: str,
    today: datetime.date | None = None,
    held: Sequence[str] | None = None,
) -> str:
    """The Security section: the advisories OSV knows for the pins of ``before`` and ``after``,
    and what the cooldown held back (``held``, cooldown.held_back's lines; None: the lock seals
    no cutoff, so nothing was)."""
    old, _ = audit.collect([before]) if before.is_file() else ([], [])
    new, skipped = audit.collect([after])
    lines = ["", "### Security", ""]
    cooled = []
    if held is not None:  # the lock seals a cutoff
        cooled = ["", "Held back by the cooldown (uploaded after the cutoff the lock seals):", ""]
        cooled += [f"- {line}" for line in held] or ["- none"]
    try:
        findings, unknown = audit.query(sorted(set(old) | set(new)), osv_url)
    except UserError as exc:
        return "\n".join([*lines, f"Not checked: {exc}.", *cooled, ""])
    entries = audit.read_allow(audit.AUDIT_ALLOW)
    versions, new_pins = dict(new), set(new)
    on_new = [f for f in findings if (f.name, f.version) in new_pins]
    still = {(f.name, i) for f in on_new for i in (f.id, *f.aliases)}
    fixed = [f for f in findings if (f.name, f.version) in set(old) and (f.name, f.id) not in still]
    lines.append(f"Advisories OSV ({audit.host(osv_url)}) knows for the pins of {after}:")
    lines += ["", "Fixed by this upgrade (on an old pin, on no new one):", ""]
    lines += [f"- {f.line()} (now {versions.get(f.name, 'removed')})" for f in fixed] or ["- none"]
    lines += ["", "Still open (on a new pin):", ""]
    for finding in on_new:
        allowed = audit.allowance(finding, entries, today or datetime.date.today())
        lines.append(f"- {finding.line()}" + (f" ({allowed})" if allowed else ""))
    lines += [] if on_new else ["- none"]
    if skipped or unknown:
        lines += ["", "Not audited:", ""]
        lines += [f"- {name} {version}: {why}" for (name, version), why in [*skipped, *unknown]]
    return "\n".join([*lines, *cooled]) + "\n"


def write(
    before: Path,
    after: Path,
    assets: Sequence[Asset],
    output: Path | None,
    osv_url: str,
    held: Sequence[str] | None = None,
) -> str:
    """The report of ``before`` -> ``after`` with its Security section (``held``: what the
    cooldown held back), saved to ``output`` when given."""
    if not after.is_file():
        raise UserError(f"{after} is missing: run `make requirements.txt`")
    text = report(pins_by_marker(before), pins_by_marker(after), release_packages(assets))
    text += security(before, after, osv_url, held=held)
    if output:
        atomic_write_text(output, text)
    return text
