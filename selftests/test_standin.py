"""The GitHub stand-in (selftests/standin.py) behaves like GitHub where the scripts depend on it."""

from __future__ import annotations

import hashlib

import requests

from standin import run_standin

REPO = "acme/models"


def test_pagination_defaults_limits_and_link_header() -> None:
    with run_standin() as github:
        github.add_synthetic(REPO, 250)
        listing = f"{github.api_url}/repos/{REPO}/releases"
        assert len(requests.get(listing).json()) == 30  # GitHub's default per_page
        assert len(requests.get(listing, params={"per_page": 500}).json()) == 100  # its maximum
        answer = requests.get(listing, params={"per_page": 100, "page": 2})
        base = f"{github.api_url}/repositories/1/releases?per_page=100&page="
        assert answer.headers["Link"] == (
            f'<{base}1>; rel="prev", <{base}3>; rel="next", '
            f'<{base}3>; rel="last", <{base}1>; rel="first"'
        )
        assert answer.links["next"]["url"] == f"{base}3"
        last = requests.get(f"{base}3")
        assert [r["tag_name"] for r in last.json()][-1] == "synthetic_model_0-0.0.0"  # oldest
        assert "next" not in last.links
        assert int(last.headers["X-RateLimit-Remaining"]) < int(last.headers["X-RateLimit-Limit"])


def test_etag_and_304() -> None:
    with run_standin() as github:
        github.add_synthetic(REPO, 3)
        listing = f"{github.api_url}/repos/{REPO}/releases"
        first = requests.get(listing)
        again = requests.get(listing, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]
        github.add_synthetic("acme/other", 1)  # another repository: same answer
        assert requests.get(listing, headers={"If-None-Match": first.headers["ETag"]}).ok
        github.add_release(REPO, "new", {"new-1.0.tar.gz": b"new"})
        changed = requests.get(listing, headers={"If-None-Match": first.headers["ETag"]})
        assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]


def test_token_drafts_and_scripted_failures() -> None:
    with run_standin() as github:
        github.token = "secret"
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"a"})
        github.add_release(REPO, "v2", {"a-2.0.tar.gz": b"b"}, draft=True)
        listing = f"{github.api_url}/repos/{REPO}/releases"
        assert requests.get(listing).status_code == 401
        wrong = requests.get(listing, headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401 and wrong.json()["message"] == "Bad credentials"
        auth = {"Authorization": "Bearer secret"}
        assert [r["draft"] for r in requests.get(listing, headers=auth).json()] == [True, False]
        github.fail_with(502, times=2)
        assert [requests.get(listing, headers=auth).status_code for _ in range(3)] == [
            502,
            502,
            200,
        ]
        assert requests.get(f"{github.api_url}/repos/acme/none/releases", headers=auth).json() == {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404",
        }
        assert len(github.api_requests(REPO)) == 6 and github.errors == []


def test_download_redirects_to_the_object_and_digest_matches() -> None:
    with run_standin() as github:
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"first"})
        (asset,) = requests.get(f"{github.api_url}/repos/{REPO}/releases").json()[0]["assets"]
        answer = requests.get(asset["browser_download_url"])
        assert answer.history[0].status_code == 302
        assert answer.url.startswith(f"{github.url}/objects/") and answer.content == b"first"
        assert asset["digest"] == f"sha256:{hashlib.sha256(b'first').hexdigest()}"
        github.replace_asset(REPO, "v1", "a-1.0.tar.gz", b"second")
        assert requests.get(asset["browser_download_url"]).content == b"second"
        assert github.downloads("a-1.0.tar.gz") == 2
