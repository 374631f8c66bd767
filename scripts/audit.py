"""`make audit`: every pin of the locks checked against OSV's advisories, through pip-audit.

pip-audit (pinned in requirements-tools.txt) asks OSV's query API (``-s osv``; OSV_URL, default
https://api.osv.dev/v1/query) about each pin. It is handed a file of ``name==version`` lines made
here, not a lock: its requirements reader leaves out every pin whose marker does not match this
machine (a Windows-only pin, a backport for an older Python), and stops at a name pinned twice
under two markers, so each such name goes to a run of its own. It runs with ``--disable-pip
--no-deps`` (it trusts the pins: it installs nothing and asks no index) in an environment without
the user's pip configuration, FIND_LINKS or tokens, so the names and versions alone reach the
advisory service. OSV_URL (a mirror's may hold a key) reaches it through its environment
(``PIP_AUDIT_OSV_URL``), never its command line, and no message shows more than its host.

Release packages (the models) are not on PyPI: OSV knows nothing of them, and its silence must not
read as clean, so they are listed as not audited and never asked about. A finding fails the audit
unless an entry of audit-allow.toml (advisory id, package, expiry date, reason) allows it; an
entry allows until the end of its date, then no more.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from .errors import UserError
from .requirements import pin_lines, release_urls, requirement_lines
from .settings import AUDIT_ALLOW, AUDIT_CACHE, Settings

Pin = tuple[str, str]  # (canonical name, version)
ENTRY_KEYS = ("id", "package", "expires", "reason")
# What pip-audit is run with: OSV, the pins trusted as given, JSON with each advisory's aliases.
PIP_AUDIT = [
    *(sys.executable, "-m", "pip_audit", "--vulnerability-service", "osv", "--disable-pip"),
    *("--no-deps", "--format", "json", "--aliases", "on", "--desc", "off"),
    *("--progress-spinner", "off", "--timeout", "30", "--cache-dir", str(AUDIT_CACHE)),
]


@dataclass(frozen=True)
class Finding:
    """An advisory that affects a pin: its id, other names (CVE-...), and the fixed versions."""

    name: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]

    def line(self) -> str:
        """``requests 2.31.0: GHSA-9wx4-h78v-vm56 (CVE-2024-35195), fixed in 2.32.0``."""
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fixed = f"fixed in {', '.join(self.fixed)}" if self.fixed else "no fixed version yet"
        return f"{self.name} {self.version}: {self.id}{aliases}, {fixed}"


@dataclass(frozen=True)
class Entry:
    """One ``[[allow]]`` entry of audit-allow.toml."""

    number: int  # 1-based, as messages name it
    id: str
    package: str
    expires: datetime.date
    reason: str

    def matches(self, finding: Finding) -> bool:
        ids = {finding.id.casefold(), *(alias.casefold() for alias in finding.aliases)}
        return canonicalize_name(self.package) == finding.name and self.id.casefold() in ids


def host(url: str) -> str:
    """What a message shows of a URL: its host and port (no credentials, path or query)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def release_names(locks: Iterable[Path]) -> set[str]:
    """The release packages of ``locks``: the pins with ``# release: URL`` lines."""
    return {name for lock in locks for name in release_urls(lock)}


def collect(locks: Sequence[Path]) -> tuple[list[Pin], list[tuple[Pin, str]]]:
    """(pins to audit, [(pin, why not)]) of ``locks``, each pin once, whatever its marker."""
    release = release_names(locks)
    audited: dict[Pin, None] = {}
    skipped: dict[Pin, str] = {}
    for lock in locks:
        if not lock.is_file():
            raise UserError(f"{lock} is missing: run `make {lock}` first")
        for _, req, pin in requirement_lines(lock):
            if pin is None:
                version = str(req.specifier) or "(no version)"
                skipped[(canonicalize_name(req.name), version)] = "not pinned with =="
            elif pin[0] in release:
                skipped[pin] = "a release package, not on PyPI: OSV has no advisories for it"
            else:
                audited[pin] = None
    return sorted(audited), sorted(skipped.items())


def rounds(pins: Iterable[Pin]) -> list[list[Pin]]:
    """``pins`` split into as few runs as hold each name once (pip-audit refuses a name pinned
    twice): one run, unless markers pin a name at two versions."""
    runs: list[dict[str, Pin]] = []
    for pin in pins:
        free = next((run for run in runs if pin[0] not in run), None)
        if free is None:
            runs.append(free := {})
        free[pin[0]] = pin
    return [list(run.values()) for run in runs]


def environment(osv_url: str) -> dict[str, str]:
    """pip-audit's environment: none of the user's pip settings, sources or tokens; OSV_URL."""
    mine = ("PIP_", "UV_", "GITHUB_TOKEN", "FIND_LINKS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(mine)}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_AUDIT_OSV_URL": osv_url}


def query(pins: Sequence[Pin], osv_url: str) -> tuple[list[Finding], list[tuple[Pin, str]]]:
    """(findings, [(pin, why pip-audit skipped it)]) of ``pins``, asked of OSV by pip-audit."""
    findings: list[Finding] = []
    skipped: list[tuple[Pin, str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, run in enumerate(rounds(pins)):
            pinned, report = Path(scratch, f"pins-{number}.txt"), Path(scratch, f"{number}.json")
            pinned.write_text(pin_lines(run))
            result = subprocess.run(
                [*PIP_AUDIT, "--requirement", str(pinned), "--output", str(report)],
                env=environment(osv_url),
                capture_output=True,
                text=True,
                check=False,
            )
            answer = _read_report(report) if result.returncode in (0, 1) else None
            if answer is None:
                raise UserError(
                    f"the advisory service at {host(osv_url)} did not answer pip-audit "
                    f"({_cause(result.stderr)}): check OSV_URL and the network, then "
                    "run `make audit` again"
                )
            for dependency in answer.get("dependencies", []):
                name, version = dependency["name"], dependency.get("version", "")
                if "skip_reason" in dependency:
                    skipped.append(((name, version), dependency["skip_reason"]))
                for vuln in dependency.get("vulns", []):
                    aliases = tuple(sorted(set(vuln.get("aliases", [])) - {vuln["id"]}))
                    fixed = tuple(vuln.get("fix_versions", []))
                    findings.append(Finding(name, version, vuln["id"], aliases, fixed))
    return sorted(findings, key=lambda f: (f.name, f.version, f.id)), skipped


def _read_report(path: Path) -> dict[str, Any] | None:
    """pip-audit's JSON report, or None when it wrote none (it failed)."""
    try:
        answer = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def _cause(stderr: str) -> str:
    """The last error pip-audit printed (``ConnectionError: ...``), each URL in it cut to its
    scheme, host and path, and no query: what OSV_URL holds beyond that may be a key."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()] or ["no output"]
    errors = [line for line in lines if re.match(r"[\w.]*(Error|Exception): ", line)]
    cause = re.sub(r"^[\w.]+\.(?=\w+: )", "", (errors or lines)[-1])  # requests.exceptions.
    cause = re.sub(r"(Caused by \w+\().*", r"\1...)", cause)  # its repr of a socket, no more
    cause = re.sub(r"[a-zA-Z][\w+.-]*://[^\s'\")]+", _bare, cause)
    return re.sub(r"\?[^\s'\")]+", "?****", cause)[:200]


def _bare(url: re.Match[str]) -> str:
    parts = urlsplit(url[0])
    return f"{parts.scheme}://{host(url[0])}{parts.path}"


def read_allow(path: Path) -> list[Entry]:
    """The ``[[allow]]`` entries of ``path`` (none when it is missing), each checked."""
    if not path.is_file():
        return []
    how = f"each [[allow]] entry of {path} gives {', '.join(ENTRY_KEYS)} (see the README)"
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not TOML ({exc}): {how}") from None
    tables = data.get("allow", [])
    if set(data) - {"allow"} or not isinstance(tables, list):
        raise UserError(f"{path}: allow must be [[allow]] entries and nothing else: {how}")
    entries = []
    for number, table in enumerate(tables, start=1):
        where = f"{path}: entry {number}"
        if not isinstance(table, dict):
            raise UserError(f"{where} is not a table: {how}")
        if missing := [key for key in ENTRY_KEYS if key not in table]:
            raise UserError(f"{where} lacks {', '.join(missing)}: {how}")
        if extra := sorted(set(table) - set(ENTRY_KEYS)):
            raise UserError(f"{where} has {', '.join(extra)}, which is not an entry's key: {how}")
        expires = table["expires"]
        if not isinstance(expires, datetime.date) or isinstance(expires, datetime.datetime):
            raise UserError(f"{where}: expires must be a date (expires = 2030-01-01, unquoted)")
        for key in ("id", "package", "reason"):
            if not isinstance(table[key], str) or not table[key].strip():
                raise UserError(f"{where}: {key} must be a text that is not empty")
        entries.append(Entry(number, table["id"], table["package"], expires, table["reason"]))
    return entries


def allowance(finding: Finding, entries: Sequence[Entry], today: datetime.date) -> str | None:
    """Why ``finding`` is allowed (``allowed until DATE by audit-allow.toml entry N``), or None;
    an expired entry that matches says so in the finding's line, and allows nothing."""
    matching = [entry for entry in entries if entry.matches(finding)]
    if live := [entry for entry in matching if entry.expires >= today]:
        entry = max(live, key=lambda e: e.expires)
        return f"allowed until {entry.expires} by {AUDIT_ALLOW} entry {entry.number}"
    return None


def expired(finding: Finding, entries: Sequence[Entry], today: datetime.date) -> str:
    """`` (audit-allow.toml entry N expired on DATE)`` when only expired entries match, else ""."""
    old = [entry for entry in entries if entry.matches(finding) and entry.expires < today]
    if not old:
        return ""
    entry = max(old, key=lambda e: e.expires)
    return f" ({AUDIT_ALLOW} entry {entry.number} expired on {entry.expires})"


def run(settings: Settings, locks: Sequence[Path], today: datetime.date | None = None) -> int:
    """Audit ``locks``: the count, what was not audited, one line per finding; exit 1 on a
    finding no live entry of audit-allow.toml allows."""
    today = today or datetime.date.today()
    entries = read_allow(AUDIT_ALLOW)
    pins, skipped = collect(locks)
    findings, unknown = query(pins, settings.osv_url)
    names = " and ".join(map(str, locks))
    audited = len(pins) - len(unknown)
    print(f"audit: {audited} pins of {names} audited against OSV ({host(settings.osv_url)})")
    for (name, version), why in [*skipped, *unknown]:
        print(f"audit: not audited: {name} {version} ({why})")
    open_ = []
    for finding in findings:
        allowed = allowance(finding, entries, today)
        print(f"audit: {finding.line()}" + (f" ({allowed})" if allowed else ""), end="")
        print("" if allowed else expired(finding, entries, today))
        if not allowed:
            open_.append(finding)
    if open_:
        names = " ".join(sorted({f.name for f in open_}))
        raise UserError(
            f"{len(open_)} advisor{'y affects' if len(open_) == 1 else 'ies affect'} the pins "
            f'above: upgrade to a fixed version (`make upgrade PACKAGES="{names}"`; widen the '
            "range in requirements.in first if it excludes the fix), or, if one does not "
            f"affect this project, allow it until a date in {AUDIT_ALLOW} (see the README)"
        )
    print("audit: no known advisory is open" if findings else "audit: no known advisory")
    return 0
