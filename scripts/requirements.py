"""Reading requirement files, and the rewrites a compiled lock goes through.

Reading: ``read_lines`` turns an ``.in`` file or a lock into logical lines (continuations joined,
comments dropped, ``--hash`` options taken apart); ``read_pins``, ``wanted`` and ``release_urls``
read what a file pins, asks for and records. Rewriting: a compiled lock gets its release
packages' hashes and URLs (``set_hashes``), its direct references written back as pins
(``unreference``), the digest of its inputs (``record_inputs``) and, last, its seal (``seal``).
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from .errors import UserError
from .settings import CONSTRAINTS, RELEASE_INPUT

_HASH = re.compile(r"--hash[= ]sha256:([0-9a-fA-F]{64})\b")
PIN_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")  # a lock's `name==version \`
RELEASE_LINE = re.compile(r"^    # release: (\S+)$")  # a lock's record of a release file's URL
SEAL = "# lock sha256: "  # the digest of the rest of the lock, recorded when make wrote it
_COMMENT = re.compile(r"(?:^|\s)#")  # a comment starts a line or follows white space


@dataclass(frozen=True)
class Line:
    """One logical line of a requirements file (continuations joined), comments removed."""

    number: int  # where it starts, 1-based
    text: str  # without comments and continuation backslashes
    hashes: tuple[str, ...]  # the hex of each --hash=sha256:<hex>

    @property
    def is_option(self) -> bool:
        return self.text.startswith("-")

    @property
    def option(self) -> str:
        """The option a line gives (``--extra-index-url`` of ``--extra-index-url=URL``), or ""."""
        return self.text.split()[0].split("=")[0] if self.is_option else ""

    def requirement(self, path: Path | None = None) -> Requirement:
        """The requirement on this line; raises UserError naming ``path:line`` when garbled."""
        try:
            return Requirement(self.text)
        except InvalidRequirement as exc:
            where = f"{path}:{self.number}" if path else f"line {self.number}"
            raise UserError(f"{where}: {self.text!r} is not a requirement ({exc})") from None

    def pin(self) -> tuple[str, str] | None:
        """(canonical name, version) when the line pins with ``==``, else None."""
        req = self.requirement()
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
            return canonicalize_name(req.name), specs[0].version
        return None


def read_lines(path: Path) -> list[Line]:
    """Read a requirements file (``.in`` or a compiled ``.txt``) into logical lines; a missing
    file has none.

    Blank lines and comments (``#`` at the start or after white space) are dropped; ``--hash``
    options are taken off the requirement and kept in ``Line.hashes``.
    """
    return read_lines_of(path.read_text()) if path.is_file() else []


def read_lines_of(text: str) -> list[Line]:
    """``read_lines`` of the ``text`` of a requirements file."""
    lines: list[Line] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        content = _COMMENT.split(raw, maxsplit=1)[0].rstrip() if "#" in raw else raw.rstrip()
        if not pending:
            start = number
        if content.endswith("\\"):
            pending.append(content[:-1])
            continue
        pending.append(content)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if not joined:
            continue
        hashes = tuple(h.lower() for h in _HASH.findall(joined))
        joined = _HASH.sub("", joined).strip()
        lines.append(Line(start, joined, hashes))
    return lines


def pinned(lines: Sequence[Line]) -> list[tuple[Line, str, str]]:
    """(line, canonical name, version) of each ``name==version`` line; options and garbled
    lines are passed over (the checks report those)."""
    found = []
    for line in lines:
        try:
            pin = None if line.is_option else line.pin()
        except UserError:
            continue
        if pin:
            found.append((line, *pin))
    return found


def requirement_lines(path: Path) -> list[tuple[Line, Requirement, tuple[str, str] | None]]:
    """(line, requirement, its pin or None when not pinned with ``==``) of each requirement
    line of ``path``, options aside; raises UserError naming the line of a garbled one."""
    return [
        (line, line.requirement(path), line.pin())
        for line in read_lines(path)
        if not line.is_option
    ]


def pins_of(text: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """What a lock's text pins, whichever backend wrote it: each (name, version, marker,
    hashes), sorted; no header, seal, option, ``# via`` or other comment."""
    return sorted(
        (name, version, str(line.requirement().marker or ""), tuple(sorted(line.hashes)))
        for line, name, version in pinned(read_lines_of(text))
    )


def read_pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of the ``name==version`` lines of a requirements file."""
    return {name: version for _, name, version in pinned(read_lines(path))}


def pin_lines(pins: Iterable[tuple[str, str]]) -> str:
    """A requirements file of ``name==version`` lines, one for each (name, version) of ``pins``
    (nothing else: no hash, no marker)."""
    return "".join(f"{name}=={version}\n" for name, version in pins)


def wanted(paths: Sequence[Path]) -> dict[str, SpecifierSet]:
    """{canonical name: specifier} of what the requirement files name (pins included)."""
    found: dict[str, SpecifierSet] = {}
    for path in paths:
        for line in read_lines(path):
            try:
                req = None if line.is_option else Requirement(line.text)
            except InvalidRequirement:
                continue  # the compile reports a garbled line with its own words
            if req is not None:
                name = canonicalize_name(req.name)
                found[name] = found.get(name, SpecifierSet()) & req.specifier
    return found


def release_urls(path: Path) -> dict[str, list[str]]:
    """{canonical name: [URL, ...]} of the release files a compiled lock records (the
    ``# release: URL`` lines under a release package's pin), none for an older lock."""
    urls: dict[str, list[str]] = {}
    name = ""
    for line in path.read_text().splitlines() if path.is_file() else []:
        if pin := PIN_LINE.match(line):
            name = canonicalize_name(pin[1])
        elif (found := RELEASE_LINE.match(line)) and name:
            urls.setdefault(name, []).append(found[1])
    return urls


def release_file_urls(path: Path) -> dict[str, str]:
    """{canonical name: URL} of the one release file each release package installs from, as
    the lock records them: its wheel, where it has one."""
    return {
        name: sorted(urls, key=lambda url: not url.endswith(".whl"))[0]
        for name, urls in release_urls(path).items()
    }


def direct_references(text: str, urls: Mapping[str, str]) -> str:
    """The body of a compiled lock (its header left out) with each ``name==version`` of
    ``urls`` written as a direct reference to its URL, hashes and notes kept: the file itself,
    so no installer weighs another of that name (a local version on an index, say)."""
    blocks = re.split(r"(?m)^(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1])
    out = []
    for block in blocks:
        pin = PIN_LINE.match(block)
        name = canonicalize_name(pin[1]) if pin else ""
        out.append(f"{name} @ {urls[name]}{block[pin.end() :]}" if pin and name in urls else block)
    return "".join(out)


def set_hashes(
    text: str, hashes: Mapping[str, set[str]], urls: Mapping[str, list[str]] | None = None
) -> str:
    """Replace the --hash lines of each ``name==version`` in ``hashes`` with exactly its set,
    and record where each of its release files lives (``urls``) as ``# release: URL`` lines:
    a fresh clone fetches them from there, with no API request."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if skipping and line.lstrip().startswith("--hash="):
            continue
        skipping = False
        name = canonicalize_name(re.split(r"[=\s\\\[;]", line, maxsplit=1)[0] or "-")
        if name in hashes and re.match(r"^[A-Za-z0-9._-]+==", line):
            out.append(line.split(" \\")[0].rstrip("\n") + " \\\n")
            block = [f"    --hash=sha256:{h}" for h in sorted(hashes[name])]
            out.append(" \\\n".join(block) + "\n")
            out += [f"    # release: {url}\n" for url in sorted((urls or {}).get(name, []))]
            skipping = True
        else:
            out.append(line)
    return "".join(out)


def unreference(text: str, versions: Mapping[str, str]) -> str:
    """A compiled lock with each ``name @ file:...`` of ``versions`` written ``name==VERSION``
    and neither ``-r build/release-requirements.in`` nor ``-c build/release-constraints.txt``
    among the reasons it gives."""
    for name, version in versions.items():
        text = re.sub(rf"(?m)^{re.escape(name)} @ file:\S+", f"{name}=={version}", text)
    made = "|".join(re.escape(str(path)) for path in (RELEASE_INPUT, CONSTRAINTS))
    text = re.sub(rf"(?m)^    # {{1,3}}(?:via )?-[rc] (?:{made})\n", "", text)
    text = re.sub(r"(?m)^    # via\n(?!    #   )", "", text)  # no reason left
    return re.sub(r"(?m)^    # via\n    #   (\S.*)\n(?!    #   )", r"    # via \1\n", text)


def inputs_line(sources: Sequence[Path]) -> str:
    """The header line that records the digest of ``sources`` (without the digest)."""
    return f"# inputs ({', '.join(str(path) for path in sources)}) sha256: "


def inputs_digest(
    sources: Sequence[Path],
    pre: bool | None,
    held: Mapping[str, str] | None = None,
    platforms: Sequence[str] = (),
) -> str:
    """A sha256 over what a lock is compiled from: its input files, the Python it is compiled
    with (and so for), PRE (``None`` for a lock PRE does not touch) and the PLATFORMS it must
    hold on (none: this machine's only, as before there were any). A compiled lock among
    the sources (requirements.txt, the constraints of requirements-dev.txt) counts only by its
    pins of the names ``held`` (the pins of the lock being made): a pin of another name cannot
    change that lock, so adding a package to requirements.in does not recompile the test tools'."""
    text = f"PYTHON={sys.version_info.major}.{sys.version_info.minor}\n"
    if pre is not None:
        text += f"PRE={'1' if pre else ''}\n"
    if platforms:
        text += f"PLATFORMS={' '.join(platforms)}\n"
    digest = hashlib.sha256(text.encode())
    for path in sources:
        if path.suffix == ".txt" and held is not None:
            shared = [
                f"{name}=={version} {' '.join(sorted(line.hashes))}\n"
                for line, name, version in pinned(read_lines(path))
                if name in held
            ]
            digest.update("".join(sorted(shared)).encode())
        else:
            digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def record_inputs(
    text: str, sources: Sequence[Path], pre: bool | None, platforms: Sequence[str] = ()
) -> str:
    """Put the inputs' digest at the end of a compiled lock's header (its first comment lines),
    then seal it: a later hand edit shows."""
    lines = text.splitlines(keepends=True)
    end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    body = "".join(lines[end:]).lstrip("\n")
    held = {name: version for _, name, version in pinned(read_lines_of(text))}
    recorded = f"{inputs_line(sources)}{inputs_digest(sources, pre, held, platforms)}\n"
    return seal("".join(lines[:end]) + recorded + "\n" + body)


def seal(text: str) -> str:
    """``text`` (a compiled lock) with a ``# lock sha256:`` line recording the digest of the rest,
    after its header's inputs line: any later change to the file shows."""
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith(SEAL)]
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# inputs (")), len(lines))
    return "".join([*lines[:at], f"{SEAL}{digest}\n", *lines[at:]])
