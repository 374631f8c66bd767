"""The locks hold on every platform of PLATFORMS: the merge of what each platform needs (unit),
and, end to end, a real cross-platform install of the locks a copy makes on this machine.

The end-to-end tests publish, on the local index, a package whose Windows install pulls an extra
dependency through a marker (as tqdm and click pull colorama) and a package published only as
platform wheels (as numpy is): the proof is uv's install of each platform's files into an empty
folder, every hash required (``--dry-run`` would accept a wrong hash), run by the test itself.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from e2e import TOOLS, WHEEL_380, Project, http_index
from packages import make_wheel
from scripts import platforms
from scripts.errors import UserError
from scripts.settings import PLATFORM_TARGETS, platforms_setting

TAGS = {
    "linux-x86_64": "cp311-cp311-manylinux_2_17_x86_64",
    "linux-aarch64": "cp311-cp311-manylinux_2_17_aarch64",
    "macos-arm64": "cp311-cp311-macosx_11_0_arm64",
    "macos-x86_64": "cp311-cp311-macosx_10_9_x86_64",
    "windows-x86_64": "cp311-cp311-win_amd64",
}
EVERY = [platforms.named(name) for name in PLATFORM_TARGETS]


def test_platforms_expand_shorthands_and_refuse_unknown_names() -> None:
    expanded = ("linux-x86_64", "linux-aarch64", "windows-x86_64")
    assert platforms_setting("windows linux") == expanded
    assert platforms_setting("") == ()
    with pytest.raises(UserError, match="'solaris' in PLATFORMS is not a platform"):
        platforms_setting("linux solaris")


def test_a_marker_names_a_whole_system_where_it_can() -> None:
    assert platforms.marker_for({"windows-x86_64"}, EVERY) == "sys_platform == 'win32'"
    assert platforms.marker_for({"linux-x86_64", "linux-aarch64"}, EVERY) == (
        "sys_platform == 'linux'"
    )
    assert platforms.marker_for({"linux-x86_64", "windows-x86_64"}, EVERY) == (
        "(sys_platform == 'linux' and platform_machine == 'x86_64') or sys_platform == 'win32'"
    )


BASE = """\
# header
--only-binary en-core-web-sm

en-core-web-sm @ file:///build/release-files/en_core_web_sm-3.8.0-py3-none-any.whl \\
    --hash=sha256:{d}
    # via -r requirements.in
fastcore==2.0 \\
    --hash=sha256:{a}
    # via -r requirements.in
"""
WINDOWS = """\
colorama==0.4.6 \\
    --hash=sha256:{c}
    # via progress
en-core-web-sm @ file:///build/release-files/en_core_web_sm-3.8.0-py3-none-any.whl \\
    --hash=sha256:{d}
fastcore==2.0 \\
    --hash=sha256:{b}
"""


def test_merge_adds_what_a_platform_needs_with_its_marker_and_joins_hashes() -> None:
    digits = {key: key * 64 for key in "abcd"}
    here, windows = platforms.named("linux-x86_64"), platforms.named("windows-x86_64")
    merged = platforms.merge(
        BASE.format(**digits), {"windows-x86_64": WINDOWS.format(**digits)}, [here, windows]
    )
    assert merged.startswith("# header\n# platforms: linux-x86_64 windows-x86_64 (made on ")
    assert "colorama==0.4.6 ; sys_platform == 'win32' \\\n    --hash=sha256:" + "c" * 64 in merged
    assert f"fastcore==2.0 \\\n    --hash=sha256:{'a' * 64} \\\n    --hash=sha256:{'b' * 64}\n" in (
        merged
    )
    assert merged.index("colorama") < merged.index("en-core-web-sm @") < merged.index("fastcore")


def test_merge_refuses_two_versions_of_one_package() -> None:
    here, windows = platforms.named("linux-x86_64"), platforms.named("windows-x86_64")
    other = "fastcore==2.1 \\\n    --hash=sha256:" + "b" * 64 + "\n"
    with pytest.raises(UserError, match=r"fastcore is 2\.0 here but 2\.1 on windows-x86_64"):
        platforms.merge(
            BASE.format(a="a" * 64, d="d" * 64), {"windows-x86_64": other}, [here, windows]
        )


def test_a_machine_outside_the_locks_platforms_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("# platforms: linux-x86_64 macos-arm64 (made on linux-x86_64)\n")
    assert platforms.refusal(lock, platforms.named("macos-arm64")) == ""
    assert platforms.refusal(lock, platforms.named("windows-x86_64")) == (
        f"{lock} holds on linux-x86_64, macos-arm64, not on this machine (windows-x86_64): add "
        "windows-x86_64 to PLATFORMS in settings.mk and run `make lock`"
    )
    other = platforms.Platform("linux-riscv64", None, "")
    assert "run `make lock PLATFORMS=` here" in platforms.refusal(lock, other)
    lock.write_text("# a lock of older templates names no platforms\n")
    assert platforms.refusal(lock, other) == ""


def publish_platform_packages(project: Project, tmp_path: Path) -> None:
    """Put on the index ``progress`` (needs colorama on Windows) and ``fastcore`` (one wheel per
    platform, none pure), and ask for both in requirements.in."""
    folder = tmp_path / "platform-files"
    files = [
        make_wheel(folder, "progress", "1.0", ['colorama>=0.4; sys_platform == "win32"']),
        *(make_wheel(folder, "fastcore", "2.0", tag=tag) for tag in TAGS.values()),
    ]
    project.publish_index(*files)
    project.write("requirements.in", project.read("requirements.in") + "progress\nfastcore\n")


def install_into_empty_folder(project: Project, name: str, target: Path, *locks: str) -> str:
    """uv's real install of platform ``name``'s files of ``locks`` into the empty ``target``,
    every hash required; its error output, "" when it installed."""
    command = [str(TOOLS / "uv"), "pip", "install", "--quiet", "--no-config", "--no-build"]
    command += ["--require-hashes", "--python-platform", PLATFORM_TARGETS[name][0]]
    command += ["--python-version", "3.11", "--target", str(target)]
    command += ["--find-links", str(project.path / "build/release-files")]
    command += [arg for lock in locks for arg in ("-r", str(project.path / lock))]
    env = {**project.env, "UV_INDEX_URL": project.env["PIP_INDEX_URL"]}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return "" if result.returncode == 0 else result.stderr


@pytest.mark.e2e
def test_the_locks_install_on_every_platform_of_the_default_list(
    project: Project, tmp_path: Path
) -> None:
    publish_platform_packages(project, tmp_path)
    project.run("install")
    lock = project.read("requirements.txt")
    assert "# platforms: linux-x86_64 linux-aarch64 macos-arm64 macos-x86_64 windows-x86_64" in lock
    assert "\ncolorama==0.4.6 ; sys_platform == 'win32' \\\n" in lock
    assert lock.split("\nfastcore==2.0 \\\n")[1].split("# via")[0].count("--hash=") == 5
    # pip-sync and uv skip what a marker leaves out here
    found = (
        "import importlib.util as u; print(bool(u.find_spec('fastcore')), u.find_spec('colorama'))"
    )
    assert project.python(found) == "True None"
    for name in PLATFORM_TARGETS:
        target = tmp_path / f"on-{name}"
        assert (
            install_into_empty_folder(
                project, name, target, "requirements.txt", "requirements-dev.txt"
            )
            == ""
        ), name
        installed = {p.name.split("-")[0] for p in target.glob("*.dist-info")}
        assert {"fastcore", "progress", "en_core_web_sm", "pytest"} <= installed, name
        assert ("colorama" in installed) == name.startswith("windows"), name
    verified = project.run("verify")
    assert "they install on linux-x86_64, linux-aarch64, macos-arm64, macos-x86_64, " in (
        verified.stdout
    )


@pytest.mark.e2e
def test_an_empty_platforms_list_locks_for_this_machine_and_verify_catches_it(
    project: Project, tmp_path: Path
) -> None:
    publish_platform_packages(project, tmp_path)
    project.run("install", "PLATFORMS=")
    lock = project.read("requirements.txt")
    assert "colorama" not in lock and "# platforms:" not in lock
    # the control: the real installer refuses the lock on Windows, naming what it lacks
    failed = install_into_empty_folder(
        project, "windows-x86_64", tmp_path / "win", "requirements.txt"
    )
    assert "no trusted hash was provided for: `colorama`" in " ".join(failed.split())
    result = project.run("verify", "PLATFORMS=windows", ok=False)
    assert result.returncode != 0
    assert (
        "error: requirements.txt and requirements-dev.txt do not install on windows-x86_64 "
        "(PLATFORMS): it needs colorama, which the lock does not pin. Run `make lock`"
    ) in result.stderr
    # the fix it advises works
    project.run("lock", "PLATFORMS=windows")
    assert "colorama==0.4.6 ; sys_platform == 'win32'" in project.read("requirements.txt")
    assert "they install on windows-x86_64" in project.run("verify", "PLATFORMS=windows").stdout


def fresh_environment(path: Path) -> Path:
    """A new virtual environment without pip: its python, for the tools' pip to install into."""
    subprocess.run([str(TOOLS / "python"), "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin/python"


@pytest.mark.e2e
def test_pylock_toml_installs_with_plain_pip_and_uv_and_refuses_a_wrong_hash(
    project: Project, tmp_path: Path
) -> None:
    publish_platform_packages(project, tmp_path)
    with http_index(project.index_files, tmp_path / "http-index") as index:
        project.env["PIP_INDEX_URL"] = index
        project.run("install")
        project.run("export")
        text = project.read("pylock.toml")
        lock = tomllib.loads(text)
        assert lock["requires-python"] == "==3.11.*" and len(lock["environments"]) == 5
        packages = {p["name"]: p for p in lock["packages"]}
        assert packages["colorama"]["marker"] == 'sys_platform == "win32"'
        assert len(packages["fastcore"]["wheels"]) == 5
        model = packages["en-core-web-sm"]["wheels"]
        assert [w["url"] for w in model] == [
            f"{project.github.url}/explosion/spacy-models/releases/download/"
            f"en_core_web_sm-3.8.0/{WHEEL_380}"
        ]
        assert all("size" in w for p in packages.values() for w in p["wheels"])
        assert "file:" not in text and str(tmp_path) not in text
        assert "they install on" in project.run("verify").stdout
        assert "pylock.toml says what requirements.txt says" in project.run("verify").stdout
        # plain pip, no configuration, no links page: the model comes from its release URL
        clean = {k: v for k, v in project.env.items() if not k.startswith(("PIP_", "UV_"))}
        clean |= {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1"}
        python = fresh_environment(tmp_path / "plain")
        pip = [str(TOOLS / "python"), "-m", "pip", "--python", str(python), "install", "-q"]
        subprocess.run([*pip, "-r", "pylock.toml"], cwd=project.path, env=clean, check=True)
        loaded = "import en_core_web_sm, fastcore, progress; print(en_core_web_sm.VERSION)"
        assert (
            subprocess.run(
                [str(python), "-c", loaded], capture_output=True, text=True, check=True
            ).stdout.strip()
            == "3.8.0"
        )
        synced = fresh_environment(tmp_path / "uv")
        uv = [str(TOOLS / "uv"), "pip", "sync", "-q", "--no-config", "--python", str(synced)]
        subprocess.run([*uv, "pylock.toml"], cwd=project.path, env=clean, check=True)
        assert subprocess.run([str(synced), "-c", loaded], check=False).returncode == 0
        # one hash changed, its length kept: plain pip refuses the file in a new environment
        digest = model[0]["hashes"]["sha256"]
        project.write("pylock.toml", text.replace(digest, digest[::-1]))
        pip[4] = str(fresh_environment(tmp_path / "tampered"))
        refused = subprocess.run(
            [*pip, "-r", "pylock.toml"],
            cwd=project.path,
            env=clean,
            capture_output=True,
            text=True,
            check=False,
        )
        assert refused.returncode != 0 and "HASHES" in refused.stderr.upper()
        assert "pylock.toml has files of en-core-web-sm==3.8.0 whose hash" in (
            project.run("verify", ok=False).stderr
        )


@pytest.mark.e2e
def test_a_pin_with_no_file_for_a_platform_stops_the_compile_naming_it(
    project: Project, tmp_path: Path
) -> None:
    only_linux = make_wheel(tmp_path / "linux-only", "fastcore", "2.0", tag=TAGS["linux-x86_64"])
    # Every other platform alone resolves to 1.0: that result, run beside this machine's
    # compile, is not taken, since it does not keep the pin made here.
    older = make_wheel(tmp_path / "pure", "fastcore", "1.0")
    project.publish_index(only_linux, older)
    project.write("requirements.in", project.read("requirements.in") + "fastcore\n")
    failed = project.run("install", ok=False)
    assert failed.returncode != 0 and not (project.path / "requirements.txt").exists()
    message = " ".join(failed.stderr.split())
    assert "error: the lock made here cannot hold on linux-aarch64 (PLATFORMS): " in message
    assert "fastcore" in message and "take linux-aarch64 out of PLATFORMS in settings.mk" in message
    # the fix it advises works: the platforms the pin has files for
    project.run("install", "PLATFORMS=linux-x86_64")
    assert "# platforms: linux-x86_64 (made on linux-x86_64)" in project.read("requirements.txt")
