"""pylock.toml: requirements.txt in the ecosystem's standard lock format (PEP 751).

`make export` writes it beside requirements-deploy.txt. Every package is listed with the URL,
size and sha256 of each file a platform of PLATFORMS may install: the files its sources list
for the pinned version whose hash the lock trusts, wheels for those platforms' tags (an sdist
only where no such wheel exists). A release package's file is its release URL, a wheel of
requirements-model.in.raw its URL there. The markers are the lock's (where the platforms
differ), ``environments`` names the platforms (an installer elsewhere refuses the file rather
than half-installing it), and ``requires-python`` is the Python of .python-version. It installs
with plain ``pip install -r pylock.toml`` (pip 26.1 or newer) or ``uv pip sync pylock.toml``, no
links page, index or token needed. No credential or path of this machine is written.

packaging.pylock checks the file against the specification; the TOML is written here, since the
standard library reads TOML but does not write it. ``problems`` is `make verify`'s check that
the file still says what requirements.txt says, platform by platform.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from packaging.markers import Environment
from packaging.pylock import Pylock, PylockSelectError, PylockValidationError
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import parse_wheel_filename

from . import backend, checks, hashes, install, net, platforms
from .assets import url_filename
from .cache import holds
from .errors import UserError, mask_url
from .files import atomic_write_text
from .requirements import Line, pinned, read_lines, release_file_urls
from .settings import LOCK, MODEL_RAW, PLATFORM_TARGETS, RELEASE_FILES, Settings

PYLOCK = Path("pylock.toml")
PYTHON = tuple(int(part) for part in platforms.PYTHON_VERSION.split("."))
# Each platform's wheel tags, as an installer there ranks them (glibc 2.5 to 2.40 on Linux).
MACHINE_TAGS = {
    "linux-x86_64": [f"manylinux_2_{minor}_x86_64" for minor in range(40, 4, -1)]
    + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"],
    "linux-aarch64": [f"manylinux_2_{minor}_aarch64" for minor in range(40, 16, -1)]
    + ["manylinux2014_aarch64"],
    "macos-arm64": list(mac_platforms((26, 0), "arm64")),
    "macos-x86_64": list(mac_platforms((26, 0), "x86_64")),
    "windows-x86_64": ["win_amd64"],
}
SYSTEMS = {"linux": ("Linux", "posix"), "darwin": ("Darwin", "posix"), "win32": ("Windows", "nt")}


def platform_tags(name: str) -> list[Tag]:
    """The wheel tags platform ``name`` installs for the locks' Python, best first."""
    machine = MACHINE_TAGS[name]
    return [*cpython_tags(PYTHON, platforms=machine), *compatible_tags(PYTHON, platforms=machine)]


def environment(name: str) -> Environment:
    """The marker environment of platform ``name`` (PEP 508) for the locks' Python."""
    _, system, machine = PLATFORM_TARGETS[name]
    sys_platform = system.split("'")[1]
    full = f"{platforms.PYTHON_VERSION}.0"
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": SYSTEMS[sys_platform][1],
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": SYSTEMS[sys_platform][0],
        "platform_version": "",
        "python_full_version": full,
        "python_version": platforms.PYTHON_VERSION,
        "sys_platform": sys_platform,
    }


def public_url(name: str, file: hashes.File, raw: Mapping[str, str]) -> str:
    """The URL any machine fetches ``file`` from: its own, without credentials (pip and uv take
    those from netrc or a keyring), or for a downloaded wheel of the .raw file its URL there."""
    if hashes.local_path(file.url) is not None:
        filename = url_filename(file.url) or Path(file.url).name
        if filename in raw:
            return raw[filename]
        raise UserError(
            f"{name}: its file {filename} comes from a folder of this machine "
            f"({mask_url(file.url)}), so pylock.toml could not name it for another machine: "
            "publish it on your package index, then run `make export`"
        )
    parts = urlsplit(file.url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def local(file: hashes.File) -> bool:
    """Whether ``file`` is on this machine (a path, a file:// URL)."""
    return hashes.local_path(file.url) is not None


def raw_urls() -> dict[str, str]:
    """{file name: URL} of the wheels of requirements-model.in.raw."""
    lines = MODEL_RAW.read_text().splitlines() if MODEL_RAW.is_file() else []
    urls = [line.split("#")[0].strip() for line in lines if line.strip().startswith("http")]
    return {url_filename(url): url for url in urls if url_filename(url)}


def wanted(files: Iterable[tuple[str, str, int | None]], tags: set[Tag]) -> list[Any]:
    """The wheels of ``files`` (name, url, size) some platform installs, else its sdists."""
    files = sorted(set(files))
    wheels = [f for f in files if f[0].endswith(".whl") and parse_wheel_filename(f[0])[3] & tags]
    return wheels or [f for f in files if not f[0].endswith(".whl")]


def release_sha256(sums: Mapping[str, str], filename: str) -> str:
    """The sha256 recorded when build/release-files/FILENAME was fetched, once the file is
    proven the one recorded (cache.holds: not read while its stamp is the one hashed)."""
    sha256 = sums.get(filename)
    if sha256 is None or not holds(filename, sha256):
        raise UserError(
            f"{RELEASE_FILES / filename}: its sha256 is not the one recorded when it was "
            "downloaded (it was changed since); delete it and run `make sync` to fetch it again "
            "and reinstall, then `make export`"
        )
    return sha256


def build(settings: Settings) -> str:
    """The text of pylock.toml for requirements.txt; raises UserError when it cannot be made."""
    problems = checks.lock_problems(LOCK, [], {})
    if problems:
        raise UserError("\n".join([*problems, f"{PYLOCK} was not written"]))
    names = [p.name for p in platforms.covered(settings) if p.name in PLATFORM_TARGETS]
    tags = {tag for name in names for tag in platform_tags(name)}
    pins = pinned(read_lines(LOCK))
    releases = release_file_urls(LOCK)
    sources = backend.pip_sources(backend.find_links(settings, None))
    listed = hashes.pinned_files(
        {name: version for _, name, version in pins if name not in releases}, *sources
    )
    raw = raw_urls()
    packages = []
    recorded = install.fetch_pinned(settings).sums  # the release files, fetched where missing
    with net.session() as http:
        for line, name, version in sorted(pins, key=lambda pin: pin[1]):
            files: list[tuple[str, str, int | None, str]] = []
            if name in releases:
                url = releases[name]
                filename = url_filename(url)
                cached = (RELEASE_FILES / filename).stat().st_size
                files = [(filename, url, cached, release_sha256(recorded, filename))]
            # A file a folder of this machine has (a find-links folder, build/wheels) is named
            # by a URL another source gives for the same bytes, where one does.
            sums = {file: hashes.hash_of(http, file) for file in listed.get(name, [])}
            remote = {sha256 for file, sha256 in sums.items() if not local(file)}
            for file, sha256 in sorted(sums.items(), key=lambda item: local(item[0])):
                if sha256 in line.hashes and not (local(file) and sha256 in remote):
                    path = hashes.local_path(file.url)
                    size = path.stat().st_size if path and path.is_file() else file.size
                    url = public_url(name, file, raw)
                    files.append((url_filename(url), url, size, sha256))
                    remote.add(sha256)
            by_key = {(f[0], f[1], f[2]): f[3] for f in files}
            chosen = wanted(by_key, tags)
            if not chosen:
                raise UserError(
                    f"{name}=={version}: none of the files its sources list has a hash "
                    f"{LOCK} trusts, for {', '.join(names)}: run `make lock`, then `make export`"
                )
            packages.append((line, name, version, [(*f, by_key[f]) for f in chosen]))
    return render(names, packages)


def render(names: Sequence[str], packages: Sequence[tuple[Line, str, str, list[Any]]]) -> str:
    """The TOML of the lock, checked against the specification (packaging.pylock)."""
    quote = json.dumps  # a JSON string is a TOML basic string
    markers = [platforms.named(name).marker for name in names]
    out = [
        "# The lock in the standard format (PEP 751), made by `make export` from requirements.txt:",
        "# install it with `pip install -r pylock.toml` (pip 26.1 or newer) or",
        "# `uv pip sync pylock.toml`. Do not edit: run `make export` after every change.",
        'lock-version = "1.0"',
        "environments = [" + ", ".join(quote(m) for m in markers) + "]",
        f"requires-python = {quote(f'=={platforms.PYTHON_VERSION}.*')}",
        'created-by = "model-pipeline-template"',
    ]
    for line, name, version, files in packages:
        out += ["", "[[packages]]", f"name = {quote(name)}", f"version = {quote(version)}"]
        marker = line.requirement().marker
        out += [f"marker = {quote(str(marker))}"] if marker else []
        entries = []
        for filename, url, size, sha256 in files:
            fields = [f"name = {quote(filename)}", f"url = {quote(url)}"]
            fields += [f"size = {size}"] if size is not None else []
            entries.append(
                "{ " + ", ".join([*fields, f"hashes = {{ sha256 = {quote(sha256)} }}"]) + " }"
            )
        if files[0][0].endswith(".whl"):
            out += ["wheels = [", *(f"  {entry}," for entry in entries), "]"]
        else:
            out += [f"sdist = {entries[0]}"]
    text = "\n".join(out) + "\n"
    try:
        Pylock.from_dict(tomllib.loads(text))
    except (PylockValidationError, tomllib.TOMLDecodeError) as exc:  # a bug here, not the user's
        raise UserError(f"{PYLOCK} came out invalid ({exc}): nothing was written") from None
    return text


def export(settings: Settings) -> None:
    """Write pylock.toml."""
    atomic_write_text(PYLOCK, build(settings))
    print(f"export: wrote {PYLOCK}")


def problems(settings: Settings) -> list[str]:
    """Where pylock.toml (when there is one) does not say what requirements.txt says: for each
    platform, the packages an installer would take from it and their files' hashes."""
    if not PYLOCK.is_file():
        return []
    fix = "run `make export` (and commit it with requirements.txt)"
    try:
        lock = Pylock.from_dict(tomllib.loads(PYLOCK.read_text()))
    except (PylockValidationError, tomllib.TOMLDecodeError) as exc:
        return [f"{PYLOCK} is not a valid lock ({exc}): {fix}"]
    pins = pinned(read_lines(LOCK))
    found = []
    for name in [p.name for p in platforms.covered(settings) if p.name in PLATFORM_TARGETS]:
        env = environment(name)
        expected = {
            (pin, version): set(line.hashes)
            for line, pin, version in pins
            if (marker := line.requirement().marker) is None or marker.evaluate(cast(Any, env))
        }
        try:
            selected = list(lock.select(environment=env, tags=platform_tags(name)))
        except PylockSelectError as exc:
            found.append(f"{PYLOCK} does not install on {name}: {exc}; {fix}")
            continue
        given = {
            (str(p.name), str(p.version)): getattr(dist, "hashes", {}).get("sha256")
            for p, dist in selected
        }
        if given.keys() != expected.keys():
            differ = sorted(f"{n}=={v}" for n, v in given.keys() ^ expected.keys())
            found.append(
                f"{PYLOCK} does not pin what {LOCK} pins on {name} ({', '.join(differ)}): {fix}"
            )
        bad = sorted(
            f"{n}=={v}" for (n, v), h in given.items() if h not in expected.get((n, v), ())
        )
        if bad:
            found.append(
                f"{PYLOCK} has files of {', '.join(bad)} whose hash {LOCK} does not list on "
                f"{name}: {fix}"
            )
    return found
