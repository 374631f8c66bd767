"""The release cooldown (scripts/cutoffs.py, scripts/cooldown.py): the cutoff a compile holds to
and where it comes from (unit), and, end to end with both backends, a local index whose PEP 691
JSON gives upload times (PEP 700) and a release whose asset has a ``created_at``: a version
uploaded yesterday held back and reported, one from last month taken, the urgent fix with
COOLDOWN=0, and `make verify` agreeing with the lock afterwards because it reads the lock's sealed
cutoff, not the clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from e2e import Project, http_index, publish_model
from packages import make_wheel
from scripts import cooldown, cutoffs
from scripts.assets import Asset, by_project
from scripts.errors import UserError
from scripts.settings import Settings, cooldown_setting

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def settings(value: str) -> Settings:
    return Settings.from_environ({"COOLDOWN": value})


def test_cooldown_reads_a_duration_and_zero_turns_it_off() -> None:
    assert cooldown_setting("") == timedelta(days=7)  # the default
    assert cooldown_setting("7 days") == cooldown_setting("1 week") == timedelta(days=7)
    assert cooldown_setting("12 hours") == timedelta(hours=12)
    assert cooldown_setting("1 day") == timedelta(days=1)
    assert cooldown_setting("0") == timedelta(0)
    assert cutoffs.label(timedelta(days=7)) == "1 week"
    assert cutoffs.label(timedelta(hours=36)) == "36 hours"
    with pytest.raises(UserError, match=r"COOLDOWN='soon' is not a duration: .* 0 for none"):
        cooldown_setting("soon")
    with pytest.raises(UserError, match="COOLDOWN='7 fortnights'"):
        cooldown_setting("7 fortnights")


def test_an_upgrade_takes_a_fresh_cutoff_every_other_compile_the_sealed_one() -> None:
    sealed = "# header\n# cooldown: uploaded before 2026-11-01T00:00:00Z\n# more\n"
    off = "#\n# cooldown: none (COOLDOWN=0)\n"
    fresh = datetime(2026, 11, 25, tzinfo=UTC)  # a week before NOW, rounded down to the day
    seven = settings("7 days")
    assert cutoffs.choose(seven, sealed, upgrade=True, now=NOW) == fresh
    assert cutoffs.choose(seven, sealed, upgrade=False, now=NOW) == datetime(
        2026, 11, 1, tzinfo=UTC
    )
    assert cutoffs.choose(seven, off, upgrade=False, now=NOW) is None  # as the lock was made
    assert cutoffs.choose(seven, "# no line\n", upgrade=False, now=NOW) == fresh  # first compile
    assert cutoffs.choose(seven, None, upgrade=False, now=NOW) == fresh
    assert cutoffs.choose(settings("0"), sealed, upgrade=False, now=NOW) is None  # the fix
    hours = cutoffs.choose(settings("12 hours"), None, upgrade=True, now=NOW + timedelta(minutes=7))
    assert hours == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # rounded down to the hour
    # An upgrade first takes a version uploaded at 10:00 when its cutoff passes 10:00: the
    # next day boundary, a week on.
    uploaded = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert cutoffs.eligible(uploaded, timedelta(days=7)) == datetime(2026, 12, 9, tzinfo=UTC)
    assert cutoffs.fresh(datetime(2026, 12, 9, tzinfo=UTC), timedelta(days=7)) > uploaded
    assert cutoffs.fresh(datetime(2026, 12, 8, 23, 59, tzinfo=UTC), timedelta(days=7)) < uploaded


def test_the_header_line_is_sealed_once_and_read_back() -> None:
    text = "#\n# made by pip-compile\n#\nspacy==3.8.2\n"
    cutoff = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    once = cutoffs.with_header(text, cutoffs.header_line(cutoff))
    twice = cutoffs.with_header(once, cutoffs.header_line(cutoff))
    line = "# cooldown: uploaded before 2026-11-25T12:00:00Z\n"
    assert once == twice == f"#\n# made by pip-compile\n#\n{line}spacy==3.8.2\n"
    assert cutoffs.sealed(once) == (True, cutoff)
    off = cutoffs.with_header(text, cutoffs.header_line(None))
    assert cutoffs.sealed(off) == (True, None) and "COOLDOWN=0" in off
    # a source is never written into a lock, even the one that turned the cutoff off
    untimed = cutoffs.header_line(None, "https://user:secret@mirror.example/simple/")
    assert "mirror" not in untimed and "gives no upload times" in untimed


def test_each_backend_gets_its_own_option_and_uv_its_exemptions() -> None:
    cutoff = datetime(2026, 11, 25, tzinfo=UTC)
    assert cutoffs.resolver_args("pip-tools", cutoff, ["spacy"]) == [
        "--uploaded-prior-to",
        "2026-11-25T00:00:00Z",
    ]
    assert cutoffs.resolver_args("uv", cutoff, ["spacy", "numpy"]) == [
        "--exclude-newer",
        "2026-11-25T00:00:00Z",
        "--exclude-newer-package",
        "numpy=false",
        "--exclude-newer-package",
        "spacy=false",
    ]
    assert cutoffs.resolver_args("uv", None, ["spacy"]) == []
    # the pins an upgrade kept are held to their own cutoff, unless exempted outright
    kept = {"numpy": datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC), "spacy": cutoff}
    assert cutoffs.resolver_args("uv", cutoff, ["spacy"], kept) == [
        "--exclude-newer",
        "2026-11-25T00:00:00Z",
        "--exclude-newer-package",
        "spacy=false",
        "--exclude-newer-package",
        "numpy=2026-11-30T08:00:01Z",
    ]
    assert cutoffs.resolver_args("pip-tools", cutoff, [], kept) == [
        "--uploaded-prior-to",
        "2026-11-25T00:00:00Z",
    ]


def release(version: str, created: str) -> Asset:
    name = f"en_core_web_sm-{version}-py3-none-any.whl"
    return Asset(
        project="en-core-web-sm",
        version=version,
        filename=name,
        url=f"https://github.com/x/{name}",
        sha256=None,
        repo="acme/models",
        tag=f"en_core_web_sm-{version}",
        prerelease=False,
        created_at=created,
    )


def test_release_files_are_held_back_by_created_at_and_an_unknown_time_counts_as_old(
    capsys: pytest.CaptureFixture[str],
) -> None:
    times = {"3.7.1": "", "3.8.0": "2026-10-01T00:00:00Z", "3.8.1": "2026-12-01T12:00:00Z"}
    index = by_project([release(version, created) for version, created in times.items()])
    cool = cooldown.Cooldown(NOW - timedelta(days=7), timedelta(days=7), [], Path("req.txt"))
    kept = cool.releases(index)
    assert sorted(map(str, kept["en-core-web-sm"])) == ["3.7.1", "3.8.0"]
    assert "acme/models gives no upload times (release files)" in capsys.readouterr().out
    specs = {"en-core-web-sm": SpecifierSet(">=3.8.1")}
    problem = cool.release_problem({"en-core-web-sm"}, index, kept, specs)
    assert problem.startswith("en-core-web-sm: the cooldown leaves no version in the range")
    assert "3.8.1, was uploaded 2026-12-01T12:00:00Z" in problem
    assert "takes it from 2026-12-09T00:00:00Z" in problem and "COOLDOWN=0" in problem
    assert cool.release_problem({"en-core-web-sm"}, index, kept, {}) == ""


UPLOADED = {
    "fastpkg-1.0": timedelta(days=30),  # last month: taken
    "fastpkg-1.1": timedelta(days=9),  # before any cutoff of 7 days (rounded down to the day)
    "fastpkg-2.0": timedelta(days=1),  # yesterday: held back
    "newpkg-2.0": timedelta(hours=1),  # an hour ago: nothing else of it
}


@pytest.mark.e2e
def test_the_cooldown_holds_back_yesterdays_release_reports_it_and_verify_agrees(
    project: Project, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    wheels = {key: make_wheel(tmp_path / "timed", *key.split("-")) for key in UPLOADED}
    uploaded = {wheels[key].name: cutoffs.iso(now - age) for key, age in UPLOADED.items()}
    # yesterday's model release: its assets' created_at is a day ago
    publish_model(
        project.github, tmp_path / "releases", "3.8.1", ">=3.8.0,<3.9.0", created_at=now - DAY
    )
    with http_index(list(wheels.values()), tmp_path / "http", uploaded) as index:
        project.env["PIP_EXTRA_INDEX_URL"] = index
        project.write("requirements.in", project.read("requirements.in") + "fastpkg\n")

        upgraded = project.run("upgrade")

        lock = project.read("requirements.txt")
        assert "fastpkg==1.1 \\" in lock  # from nine days ago, not yesterday's 2.0
        assert "en-core-web-sm==3.8.0 \\" in lock  # 3.8.1's asset was created yesterday
        cutoff = re.search(r"# cooldown: uploaded before (\S+)\n", lock)
        assert cutoff, lock
        sealed = cutoffs.parse_time(cutoff[1])
        week = timedelta(days=7)
        assert sealed in (cutoffs.fresh(now, week), cutoffs.fresh(datetime.now(UTC), week))
        # the local index (no upload times) is named, once per lock, and its files taken
        local = r"cooldown: file://\S+ gives no upload times \(a local index\)"
        assert re.search(local, upgraded.stdout), upgraded.stdout
        report = project.read("build/upgrade-report.md")
        held = report.split("Held back by the cooldown")[1]
        when = uploaded[wheels["fastpkg-2.0"].name]
        eligible = cutoffs.iso(cutoffs.eligible(cutoffs.parse_time(when) or now, week))
        assert f"- fastpkg 2.0 (uploaded {when}): taken by a `make upgrade` from {eligible}" in held
        assert "- en-core-web-sm 3.8.1 (uploaded " in held

        # A new requirement whose only version is an hour old: one line, and the fix it gives.
        project.write("requirements.in", project.read("requirements.in") + "newpkg\n")
        refused = project.run("requirements.txt", ok=False)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert re.search(
            r"error: newpkg: the cooldown leaves no version in the range asked for: the newest, "
            r"2\.0, was uploaded .*To take it now, run the same command with COOLDOWN=0",
            refused.stderr,
        ), refused.stderr
        assert project.read("requirements.txt") == lock  # left as it was
        project.run("requirements.txt", "COOLDOWN=0")
        assert "newpkg==2.0 \\" in project.read("requirements.txt")

        # The urgent fix: yesterday's fastpkg 2.0 at once, the rest as it was.
        project.run("upgrade", "PACKAGES=fastpkg", "COOLDOWN=0")
        fixed = project.read("requirements.txt")
        assert "fastpkg==2.0 \\" in fixed and "en-core-web-sm==3.8.0 \\" in fixed
        assert "# cooldown: none (COOLDOWN=0)\n" in fixed

        # Later, with the default COOLDOWN again: verify reads the cutoff the lock seals (none
        # here), not the clock, which would hold back the 2.0 the lock pins.
        verified = project.run("verify")
        assert "requirements.txt is up to date" in verified.stdout

        # The next `make upgrade` keeps the fix (and newpkg), rather than move them back under
        # its fresh cutoff; verify agrees with that lock too.
        again = project.run("upgrade")
        kept = project.read("requirements.txt")
        assert "fastpkg==2.0 \\" in kept and "newpkg==2.0 \\" in kept, again.stdout
        assert "# cooldown: uploaded before " in kept
        assert "downgraded" not in project.read("build/upgrade-report.md")
        assert "requirements.txt is up to date" in project.run("verify").stdout


@pytest.mark.e2e
def test_an_index_with_no_upload_times_is_taken_and_named_in_one_line(
    project: Project, tmp_path: Path
) -> None:
    # An HTML-only private index: its JSON, where it has one, gives no upload-time either.
    wheel = make_wheel(tmp_path / "untimed", "plainpkg", "3.0")
    with http_index([wheel], tmp_path / "http") as index:
        project.env["PIP_EXTRA_INDEX_URL"] = index
        project.write("requirements.in", project.read("requirements.in") + "plainpkg\n")

        made = project.run("requirements.txt")

        lock = project.read("requirements.txt")
        assert "plainpkg==3.0 \\" in lock
        named = [line for line in made.stdout.splitlines() if index in line]
        assert named == [
            f"cooldown: {index} gives no upload times (an index): "
            + (
                "its files are taken whatever COOLDOWN says"
                if project.env["RESOLVER"] == "uv"
                else cooldown.PIP_OFF
            )
        ], made.stdout
        assert "127.0.0.3" not in lock  # the source is named in the output, never in the lock
        # uv keeps the cutoff for every other package; pip can only do without it, and says so
        if project.env["RESOLVER"] == "uv":
            assert "# cooldown: uploaded before " in lock
        else:
            assert "# cooldown: none (a source gives no upload times)\n" in lock
        assert "requirements.txt is up to date" in project.run("verify").stdout
