"""scripts/stubs.py and the compile's early fetch (fetch.Early): a release wheel's metadata read
by range requests, so the resolver runs while the file downloads, and the file held to what the
resolver read.

The stand-in holds a whole download until the test lets it go (``hold``), so what goes on
meanwhile is seen with no clock; its ranges can be of another file (``stale_ranges``), as a
hostile server's or a stale cache's may be.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from e2e import Project
from packages import make_wheel
from scripts import fetch, net, stubs
from scripts.__main__ import main
from scripts.assets import read_manifest
from scripts.cache import ReleaseFiles
from scripts.errors import UserError
from scripts.settings import MANIFEST, RELEASE_FILES, RELEASE_STUBS, Settings
from standin import REPO, GitHubStandIn
from test_net import WHEEL, github  # noqa: F401 (github: a fixture)


@pytest.fixture
def gh(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> GitHubStandIn:
    """test_net's stand-in: acme_model 1.0.0 (no digest, as spaCy's models) in a fresh folder;
    its 200 KB wheel fetched early, as a big model is."""
    monkeypatch.setattr(fetch, "EARLY_FROM", 0)
    return request.getfixturevalue("github")


METADATA = "acme_model-1.0.0.dist-info/METADATA"


def listed() -> ReleaseFiles:
    """`make links`, then the release files of the listing, none fetched yet."""
    assert main(["links", "--quiet"]) == 0
    return ReleaseFiles(Settings.from_environ(os.environ), read_manifest(MANIFEST), quiet=True)


def dist_info_of(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return stubs.dist_info(archive)


def test_a_wheel_s_metadata_is_read_from_its_end_alone(gh: GitHubStandIn, tmp_path: Path) -> None:
    files = listed()
    asset = files.assets[0]
    stub = tmp_path / "stub" / WHEEL

    with net.Downloader(net.session(netrc=False)) as fetch:
        download = net.Download(asset.url, stub, size=asset.size, netrc=False)
        assert stubs.make(fetch, [download], asset.size, stub)

    whole = tmp_path / "whole.whl"
    whole.write_bytes(gh.asset_data(WHEEL))
    assert dist_info_of(stub) == dist_info_of(whole)
    assert b"Name: acme_model" in dist_info_of(stub)[METADATA]
    assert gh.served(WHEEL) <= stubs.TAIL < asset.size / 3  # the end, not the 200 KB file
    assert stub.stat().st_size < 2_000


def test_a_server_that_ignores_ranges_gives_no_stub(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.ranges = False  # 200 with the whole file (RFC 9110 14.2)
    files = listed()
    asset = files.assets[0]
    stub = tmp_path / WHEEL

    with net.Downloader(net.session(netrc=False)) as fetch:
        download = net.Download(asset.url, stub, size=asset.size, netrc=False)
        assert not stubs.make(fetch, [download], asset.size, stub)

    assert not stub.exists()


def test_a_wheel_whose_metadata_is_far_from_its_end_gives_no_stub(
    gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wheel written with its .dist-info first (builders write it last): the metadata is
    # 200 KB from the end, past the most this reads from one file.
    monkeypatch.setattr(stubs, "MOST", 100_000)
    made = make_wheel(tmp_path / "made", "other_model", "1.0.0", payload=os.urandom(200_000))
    with zipfile.ZipFile(made) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    first = tmp_path / "first" / made.name
    first.parent.mkdir()
    with zipfile.ZipFile(first, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in sorted(entries, key=lambda entry: ".dist-info/" not in entry[0].filename):
            archive.writestr(info, data)
    gh.add_release(REPO, "other_model-1.0.0", {made.name: first.read_bytes()}, digest=False)
    files = listed()
    asset = next(a for a in files.assets if a.filename == made.name)

    with net.Downloader(net.session(netrc=False)) as fetch:
        download = net.Download(asset.url, tmp_path / "stub.whl", size=asset.size, netrc=False)
        assert not stubs.make(fetch, [download], asset.size, tmp_path / "stub.whl")


def test_an_early_fetch_returns_while_the_file_is_still_on_its_way(
    gh: GitHubStandIn,
) -> None:
    files = listed()
    arrived = gh.hold(WHEEL)

    files.ensure(files.assets, early=True)  # the download waits for ``arrived``: this did not

    assert not arrived.is_set()
    assert files.path(WHEEL) == RELEASE_STUBS / WHEEL
    assert not files.has(WHEEL)
    assert dist_info_of(files.path(WHEEL))  # what the resolver reads meanwhile
    arrived.set()
    files.wait()
    assert files.has(WHEEL) and files.path(WHEEL) == RELEASE_FILES / WHEEL
    assert (RELEASE_FILES / WHEEL).read_bytes() == gh.asset_data(WHEEL)


def test_a_file_whose_ranges_were_of_another_file_is_refused_then_taken_on_the_next_run(
    gh: GitHubStandIn, tmp_path: Path
) -> None:
    # The attack: the ranges come from another wheel of the same name and size that requires
    # something else, so the resolver would have read other requirements than the file's.
    real = gh.asset_data(WHEEL)
    other = same_size_wheel(tmp_path, len(real), requires=["evil-package"])
    gh.stale_ranges(WHEEL, other)
    files = listed()

    with pytest.raises(UserError) as raised, files.fetching():
        files.ensure(files.assets, early=True)
        assert b"evil-package" in dist_info_of(files.path(WHEEL))[METADATA]

    assert "is not the downloaded file's" in str(raised.value)
    assert "run the same command again" in str(raised.value)
    assert not RELEASE_STUBS.exists()
    again = listed()  # the advice followed: the file is fetched and checked, as ever
    again.ensure(again.assets, early=True)
    assert again.path(WHEEL) == RELEASE_FILES / WHEEL
    assert b"evil-package" not in dist_info_of(again.path(WHEEL))[METADATA]


def same_size_wheel(folder: Path, size: int, requires: list[str]) -> bytes:
    """acme_model 1.0.0 requiring ``requires``, padded to exactly ``size`` bytes."""
    payload = 150_000
    for _ in range(50):
        made = make_wheel(folder / "other", "acme_model", "1.0.0", requires, os.urandom(payload))
        data = made.read_bytes()
        if len(data) == size:
            return data
        payload += size - len(data)
    raise AssertionError("could not match the size")


def test_a_cold_compile_resolves_against_the_stub_and_locks_the_release_file(
    project: Project,
) -> None:
    big = make_wheel(project.path.parent / "big", "acme_big", "1.0.0", payload=os.urandom(2 << 20))
    data = big.read_bytes()
    project.github.add_release(
        "explosion/spacy-models", "acme_big-1.0.0", {big.name: data}, digest=False
    )
    project.write("requirements.in", project.read("requirements.in") + "acme_big>=1,<2\n")
    project.run("links")

    project.run("requirements.txt")

    reference = project.read("build/release-requirements.in")  # before compile --dev rewrites it
    assert f"/build/release-stubs/{big.name}" in reference  # what the resolver read
    assert "/build/release-files/en_core_web_sm" in reference  # 6 KB: fetched first
    assert not (project.path / "build/release-stubs").exists()
    sums = project.read("build/release-files/SHA256SUMS")
    assert f"{hashlib.sha256(data).hexdigest()}  {big.name}" in sums
    assert f"--hash=sha256:{hashlib.sha256(data).hexdigest()}" in project.read("requirements.txt")
    assert f"release-files/{big.name}" in project.read("build/resolver-links.html")
    assert project.github.downloads(big.name) == 1
    assert project.github.served(big.name) < len(data) + 2 * stubs.TAIL
    project.run("install")
    assert project.python("import acme_big; print(acme_big.VERSION)") == "1.0.0"
    project.run("verify")
