"""The template meets GitHub as it really is, end to end through `make`: the releases listing's
cap, private repositories, downloads from another host, bad bodies, unfinished uploads, and
GitHub Enterprise next to github.com. The stand-in follows ../shared/notes/github-releases-api.md
(each behaviour cites its row there).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from e2e import WHEEL_380, Project
from packages import MODEL_CODE, SPACY_CODE, make_wheel
from standin import GitHubStandIn, run_standin

pytestmark = pytest.mark.e2e
TOKEN = "ghp_" + "PublicT0ken" * 3
NETRC_SECRET = "netrc-Secr3t"
OTHER_TOKEN = "ghp_" + "CompanyT0ken" * 3


def publish_private_model(github: GitHubStandIn, repo: str, folder: Path) -> Path:
    """A release of acme_model 1.0.0 (a wheel needing spacy) in ``repo``, made private."""
    wheel = make_wheel(folder, "acme_model", "1.0.0", ["spacy>=3.8,<3.9"], code=MODEL_CODE)
    github.add_release(repo, "acme_model-1.0.0", {wheel.name: wheel.read_bytes()}, digest=False)
    github.make_private(repo)
    return wheel


def test_an_old_release_past_the_listing_cap_installs_by_name(project: Project) -> None:
    count = project.github.load_spacy_models("acme/spacy-models")  # the 1,100 real releases
    assert count > 1000
    project.env["MODEL_REPOS"] = "acme/spacy-models"
    project.publish_index(
        make_wheel(project.path.parent / "idx", "spacy", "3.1.6", code=SPACY_CODE)
    )
    project.write("requirements.in", "spacy>=3.1,<3.2\nca_core_news_lg>=3.1.0,<3.2.0\n")

    result = project.run("install")

    assert "GitHub lists only the newest 1000 releases; older ones are looked up by tag" in (
        result.stdout
    )
    assert project.python("import ca_core_news_lg; print(ca_core_news_lg.VERSION)") == "3.1.0"
    assert "ca-core-news-lg==3.1.0 \\" in project.read("requirements.txt")
    tags = [r.path for r in project.github.api_requests() if "/releases/tags/" in r.path]
    assert set(tags) == {"/api/repos/acme/spacy-models/releases/tags/ca_core_news_lg-3.1.0"}
    project.run("verify")


def test_a_private_repository_next_to_a_public_one_sends_the_token_only_to_the_api(
    project: Project,
) -> None:
    """With a ~/.netrc of both shapes: an entry for the API's host, which requests would put in
    the token's place, and a `default` one, which it would send to the storage host too (notes
    row 7). GitHub gets the token alone, the storage host no credential."""
    project.github.token = TOKEN
    wheel = publish_private_model(project.github, "acme/private", project.path.parent / "acme")
    home = project.path.parent / "home"
    home.mkdir()
    (home / ".netrc").write_text(
        f"machine 127.0.0.1 login someone password {NETRC_SECRET}\n"
        f"default login anyone password {NETRC_SECRET}\n"
    )
    (home / ".netrc").chmod(0o600)
    project.env.update(HOME=str(home))
    project.env.pop("NETRC", None)
    project.env.update(GITHUB_TOKEN=TOKEN, MODEL_REPOS="explosion/spacy-models acme/private")
    project.write("requirements.in", project.read("requirements.in") + "acme_model>=1,<2\n")

    result = project.run("install")

    assert project.python("import acme_model; print(acme_model.VERSION)") == "1.0.0"
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f"--hash=sha256:{digest}" in project.read("requirements.txt")
    carrying = {r.host for r in project.github.requests if "authorization" in r.headers}
    assert carrying == {"api"}  # never github.com, never the storage host
    sent = {r.headers["authorization"] for r in project.github.requests if r.host == "api"}
    assert sent == {f"Bearer {TOKEN}"}  # not the netrc's, and on every API request
    assert project.github.downloads(wheel.name) == 1  # then pip reads the local copy
    assert TOKEN not in result.stdout + result.stderr
    project.run("verify")


def test_a_private_release_file_without_a_token_says_which_token(project: Project) -> None:
    project.github.token = TOKEN
    publish_private_model(project.github, "acme/private", project.path.parent / "acme")
    project.env.update(GITHUB_TOKEN=TOKEN, MODEL_REPOS="explosion/spacy-models acme/private")
    project.run("links")
    project.write("requirements.in", project.read("requirements.in") + "acme_model>=1,<2\n")
    del project.env["GITHUB_TOKEN"]

    result = project.run("install", ok=False)

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "acme/private is private, set the token" in result.stderr, result.stderr


@pytest.mark.parametrize("fault", ["html", "storage-500", "truncated"])
def test_a_bad_download_is_refused_and_the_next_run_recovers(project: Project, fault: str) -> None:
    """An HTML page and a 500 keep nothing; a download cut at 90 % keeps what arrived as
    NAME.part (never recorded or linked), and the next run asks only for the rest. No message
    shows the signed URL's query."""
    github = project.github
    if fault == "html":
        github.serve_html_for(WHEEL_380)  # GitHub's "unicorn" page, with 200
    elif fault == "storage-500":
        github.fail_with(500, path="/github-production-release-asset/", times=4)  # and retries
    else:
        github.truncate(WHEEL_380, at=0.9)

    failed = project.run("install", ok=False)

    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    signed = [r.query for r in github.requests if r.host == "storage"]
    assert signed and not [
        q for q in signed if q["sig"] in failed.stderr or q["jwt"] in failed.stderr
    ]
    assert "sig=" not in failed.stderr and "jwt=" not in failed.stderr
    files = project.path / "build/release-files"
    part = files / f"{WHEEL_380}.part"
    assert WHEEL_380 in failed.stderr
    if fault == "truncated":
        assert "broke off" in failed.stderr and f"{WHEEL_380}.part" in failed.stderr
        assert "Run the same command again to continue the download" in failed.stderr
        assert part.is_file()
    else:
        assert "nothing was kept" in failed.stderr and not part.exists()
        assert ("HTML page" if fault == "html" else "answered HTTP 500") in failed.stderr
    assert not (files / WHEEL_380).exists()
    sums = (files / "SHA256SUMS").read_text() if (files / "SHA256SUMS").exists() else ""
    assert WHEEL_380 not in sums and not (project.path / "requirements.txt").exists()
    assert ".part" not in project.read("build/model-links.html")
    before = len(github.requests)

    project.run("install")  # the server is good again: the same command recovers

    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"
    project.run("verify")
    assert not part.exists()
    if fault == "truncated":
        (again,) = [r for r in github.requests[before:] if r.host == "storage"]
        size = len(github.asset_data(WHEEL_380))
        assert again.headers["range"] == f"bytes={int(size * 0.9)}-"
        assert github.served(WHEEL_380) < 1.3 * size


def test_a_release_file_replaced_since_the_listing_is_refused_until_make_links(
    project: Project,
) -> None:
    """The maintainers replaced a release file after `make links` listed it: the download's
    size is not the one GitHub listed, nothing is kept, and `make links`, as the message says
    when the same command fails again, brings the new file in."""
    project.run("links")
    listed = (project.path.parent / "releases" / WHEEL_380).read_bytes()
    model = ("en_core_web_sm", "3.8.0", ["spacy>=3.8.0,<3.9.0"])
    new = make_wheel(project.path.parent / "new", *model, code=MODEL_CODE)
    tag = "en_core_web_sm-3.8.0"
    project.github.replace_asset("explosion/spacy-models", tag, WHEEL_380, new.read_bytes(), False)

    failed = project.run("install", ok=False)
    again = project.run("install", ok=False)

    said = f"{WHEEL_380}: the download gave {new.stat().st_size} bytes, not {len(listed)}"
    for result in (failed, again):
        assert said in result.stderr and "nothing was kept" in result.stderr, result.stderr
        assert "run `make links`" in result.stderr and "Traceback" not in result.stderr
    assert not (project.path / "build/release-files" / WHEEL_380).exists()
    project.run("links")
    project.run("install")
    digest = hashlib.sha256(new.read_bytes()).hexdigest()
    assert f"--hash=sha256:{digest}" in project.read("requirements.txt")
    project.run("verify")


def test_an_unfinished_upload_is_not_linked(project: Project) -> None:
    tag = "en_core_web_sm-3.8.0"
    project.github.set_asset_state("explosion/spacy-models", tag, WHEEL_380, "starter")

    result = project.run("links")

    assert WHEEL_380 not in project.read("build/model-links.html")
    assert "1 unfinished uploads skipped" in result.stdout


def test_github_enterprise_next_to_github_each_with_its_own_token(project: Project) -> None:
    """`MODEL_REPOS` names a GitHub Enterprise repository by its host; bare OWNER/NAME stays on
    GITHUB_API_URL; each API gets only its own token (notes row 16)."""
    project.github.token = TOKEN
    with run_standin(ghes=True) as company:
        company.token = OTHER_TOKEN
        publish_private_model(company, "acme/models", project.path.parent / "acme")
        host = company.api_root.removeprefix("http://")
        variable = "GITHUB_TOKEN_" + host.upper().replace(".", "_").replace(":", "_")
        project.env.update(
            GITHUB_TOKEN=TOKEN,
            MODEL_REPOS=f"explosion/spacy-models {company.api_root}/acme/models",
            **{variable: OTHER_TOKEN},
        )
        project.write("requirements.in", project.read("requirements.in") + "acme_model>=1,<2\n")

        result = project.run("install")

        assert project.python("import acme_model; print(acme_model.VERSION)") == "1.0.0"
        assert f"{host}/acme/models: 1 releases read" in result.stdout
        assert all(r.path.startswith("/api/v3/") for r in company.api_requests())
        public = {r.headers.get("authorization") for r in project.github.requests}
        private = {r.headers.get("authorization") for r in company.requests}
        assert public <= {None, f"Bearer {TOKEN}"} and f"Bearer {TOKEN}" in public
        assert private <= {None, f"Bearer {OTHER_TOKEN}"} and f"Bearer {OTHER_TOKEN}" in private
        assert {r.host for r in company.requests if "authorization" in r.headers} == {"api"}
