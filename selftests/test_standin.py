"""The GitHub stand-in (selftests/standin.py) behaves like GitHub where the scripts depend on it."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from standin import REPO, run_standin


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


def test_listing_stops_at_the_first_1000_results_but_links_go_on() -> None:
    with run_standin() as github:
        github.add_synthetic(REPO, 1050)
        listing = f"{github.api_url}/repos/{REPO}/releases"
        tenth = requests.get(listing, params={"per_page": 100, "page": 10})
        assert tenth.status_code == 200 and len(tenth.json()) == 100
        base = f"{github.api_url}/repositories/1/releases?per_page=100&page="
        assert tenth.links["next"]["url"] == tenth.links["last"]["url"] == f"{base}11"
        past = requests.get(tenth.links["next"]["url"])
        assert past.status_code == 422
        assert past.json() == {
            "message": "Only the first 1000 results are available.",
            "documentation_url": "https://docs.github.com/rest/releases/releases#list-releases",
            "status": "422",
        }
        assert int(past.headers["X-RateLimit-Remaining"]) == 5000 - 2  # it counts, too
        straddling = requests.get(listing, params={"per_page": 30, "page": 34})  # items 990-1019
        assert len(straddling.json()) == 10 and "next" in straddling.links
        assert straddling.json()[-1]["tag_name"] == "synthetic_model_10-2.0.0"  # the 1000th
        assert requests.get(listing, params={"per_page": 30, "page": 35}).status_code == 422
        github.listing_cap = None
        assert len(requests.get(tenth.links["next"]["url"]).json()) == 50


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
        assert [r["draft"] for r in requests.get(listing).json()] == [False]  # anonymous
        wrong = requests.get(listing, headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401 and wrong.json()["message"] == "Bad credentials"
        assert "X-RateLimit-Remaining" not in wrong.headers  # notes row 13
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
        assert answer.url.startswith(f"{github.storage_url}/objects/")
        assert answer.content == b"first"
        assert asset["digest"] == f"sha256:{hashlib.sha256(b'first').hexdigest()}"
        github.replace_asset(REPO, "v1", "a-1.0.tar.gz", b"second")
        assert requests.get(asset["browser_download_url"]).content == b"second"
        assert github.downloads("a-1.0.tar.gz") == 2


def test_three_hosts_and_the_token_never_reaches_storage() -> None:
    with run_standin() as github:
        github.token = "secret"
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"bytes"})
        hosts = {urlsplit(u).hostname for u in (github.api_url, github.url, github.storage_url)}
        assert hosts == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
        session = requests.Session()
        session.headers["Authorization"] = "Bearer secret"
        (release,) = session.get(f"{github.api_url}/repos/{REPO}/releases").json()
        answer = session.get(release["assets"][0]["browser_download_url"])
        assert answer.content == b"bytes"
        # requests drops the header when the redirect changes host (notes row 7).
        assert [(r.host, "authorization" in r.headers) for r in github.requests] == [
            ("api", True),
            ("web", True),
            ("storage", False),
        ]
        assert github.api_requests() == github.requests[:1]


def test_signed_url_refuses_authorization_a_wrong_signature_and_expiry() -> None:
    with run_standin() as github:
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"bytes"})
        (release,) = requests.get(f"{github.api_url}/repos/{REPO}/releases").json()
        url = release["assets"][0]["browser_download_url"]
        signed = requests.get(url, allow_redirects=False).headers["Location"]
        query = dict(parse_qsl(urlsplit(signed).query))
        assert signed.startswith(f"{github.storage_url}/objects/")
        assert query.keys() == {"sig", "exp"}
        assert time.time() + 60 < int(query["exp"]) < time.time() + 3600  # minutes ahead
        both = requests.get(signed, headers={"Authorization": "Bearer secret"})
        assert (both.status_code, both.text) == (400, "Only one auth mechanism allowed")
        forged = signed.replace(f"sig={query['sig']}", f"sig={'0' * 64}")
        assert requests.get(forged).status_code == 403
        later = signed.replace(f"exp={query['exp']}", f"exp={int(query['exp']) + 3600}")
        assert requests.get(later).status_code == 403  # the signature covers the expiry
        github.signed_url_ttl = -1
        expired = requests.get(url)
        assert expired.status_code == 403 and expired.history[0].status_code == 302
        assert github.downloads("a-1.0.tar.gz") == 0
        assert requests.get(signed).content == b"bytes"
        assert github.downloads("a-1.0.tar.gz") == 1


def test_asset_api_url_gives_the_json_or_with_octet_stream_a_signed_redirect() -> None:
    with run_standin() as github:
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"bytes"})
        (listed,) = requests.get(f"{github.api_url}/repos/{REPO}/releases").json()[0]["assets"]
        assert listed["url"] == f"{github.api_url}/repos/{REPO}/releases/assets/{listed['id']}"
        assert requests.get(listed["url"]).json() == listed
        octet = {"Accept": "application/octet-stream"}
        redirect = requests.get(listed["url"], headers=octet, allow_redirects=False)
        assert redirect.status_code == 302
        assert redirect.headers["Location"].startswith(f"{github.storage_url}/objects/")
        assert requests.get(listed["url"], headers=octet).content == b"bytes"
        missing = f"{github.api_url}/repos/{REPO}/releases/assets/999999"
        assert requests.get(missing, headers=octet).status_code == 404
        assert github.downloads("a-1.0.tar.gz") == 1


def test_private_repository_needs_the_token_and_its_browser_urls_are_404() -> None:
    with run_standin() as github:  # no github.token: any token has push access
        github.add_release("acme/secret", "v1", {"a-1.0.tar.gz": b"bytes"})
        github.make_private("acme/secret")
        listing = f"{github.api_url}/repos/acme/secret/releases"
        session = requests.Session()
        session.headers["Authorization"] = "Bearer secret"
        (asset,) = session.get(listing).json()[0]["assets"]
        assert requests.get(listing).status_code == 404  # no token: hidden (notes row 6)
        browser = asset["browser_download_url"]
        assert requests.get(browser).status_code == 404
        assert session.get(browser).status_code == 404  # a token does not help there
        octet = {"Accept": "application/octet-stream"}
        assert requests.get(asset["url"], headers=octet).status_code == 404
        answer = session.get(asset["url"], headers=octet)  # requests drops the header on 302
        assert answer.content == b"bytes" and answer.history[0].status_code == 302
        (storage,) = [r for r in github.requests if r.host == "storage"]
        assert "authorization" not in storage.headers
        signed = session.get(asset["url"], headers=octet, allow_redirects=False)
        by_hand = session.get(signed.headers["Location"])  # sending the token on: refused
        assert (by_hand.status_code, by_hand.text) == (400, "Only one auth mechanism allowed")
        assert github.downloads("a-1.0.tar.gz") == 1


def test_release_by_tag_and_tag_refs_count_and_answer_304() -> None:
    with run_standin() as github:
        github.token = "secret"
        auth = {"Authorization": "Bearer secret"}
        github.add_release(REPO, "v1.10", {"a-1.10.tar.gz": b"a"})
        github.add_release(REPO, "v1.9", {"a-1.9.tar.gz": b"b"})
        github.add_release(REPO, "w1", {"w-1.tar.gz": b"c"})
        github.add_release(REPO, "v2", {"a-2.tar.gz": b"d"}, draft=True)
        by_tag = f"{github.api_url}/repos/{REPO}/releases/tags"
        release = requests.get(f"{by_tag}/v1.9", headers=auth)
        assert release.json()["tag_name"] == "v1.9" and release.json()["immutable"] is False
        assert [a["name"] for a in release.json()["assets"]] == ["a-1.9.tar.gz"]
        assert requests.get(f"{by_tag}/v2", headers=auth).status_code == 404  # a draft
        assert requests.get(f"{by_tag}/v3", headers=auth).status_code == 404
        refs = f"{github.api_url}/repos/{REPO}/git/matching-refs/tags"
        tags = requests.get(f"{refs}/v1", headers=auth)
        assert [r["ref"] for r in tags.json()] == ["refs/tags/v1.10", "refs/tags/v1.9"]
        (first, _) = tags.json()
        assert first["object"]["type"] == "commit" and len(first["object"]["sha"]) == 40
        assert first["url"] == f"{github.api_url}/repos/{REPO}/git/refs/tags/v1.10"
        assert first.keys() == {"ref", "node_id", "url", "object"}
        assert requests.get(f"{refs}/x", headers=auth).json() == []
        assert len(requests.get(refs, headers=auth).json()) == 3  # no prefix: every tag
        assert github.rate_remaining == 5000 - 6
        for url, answer in ((f"{by_tag}/v1.9", release), (f"{refs}/v1", tags)):
            again = requests.get(url, headers={**auth, "If-None-Match": answer.headers["ETag"]})
            assert again.status_code == 304
        assert github.rate_remaining == 5000 - 6  # a 304 costs nothing


def test_a_download_changes_the_listing_and_its_etag() -> None:
    with run_standin() as github:
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"bytes"})
        listing = f"{github.api_url}/repos/{REPO}/releases"
        first = requests.get(listing)
        assert first.json()[0]["assets"][0]["download_count"] == 0
        assert requests.get(first.json()[0]["assets"][0]["browser_download_url"]).ok
        again = requests.get(listing, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]
        assert again.json()[0]["assets"][0]["download_count"] == 1


def test_scripted_download_faults_html_and_truncation() -> None:
    with run_standin() as github:
        data = bytes(range(256)) * 40
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": data})
        (asset,) = requests.get(f"{github.api_url}/repos/{REPO}/releases").json()[0]["assets"]
        url = asset["browser_download_url"]
        github.serve_html_for("a-1.0.tar.gz")
        unicorn = requests.get(url)
        assert unicorn.status_code == 200 and unicorn.history[0].status_code == 302
        assert unicorn.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b"<html" in unicorn.content and len(unicorn.content) != asset["size"]
        github.truncate("a-1.0.tar.gz")
        with requests.get(url, stream=True) as cut:
            assert cut.headers["Content-Length"] == str(len(data))
            with pytest.raises(requests.exceptions.ChunkedEncodingError):
                cut.content  # noqa: B018
        assert requests.get(url).content == data  # each fault was scripted once
        assert github.downloads("a-1.0.tar.gz") == 2  # the cut one too; the HTML page is not


def test_asset_states_and_empty_uploads_show_in_the_json() -> None:
    with run_standin() as github:
        files = {"a-1.0.tar.gz": b"bytes", "b-1.0.tar.gz": b"more"}
        github.add_release(REPO, "v1", files, states={"a-1.0.tar.gz": "starter"})
        github.set_asset_state(REPO, "v1", "b-1.0.tar.gz", "open", size=0)
        (release,) = requests.get(f"{github.api_url}/repos/{REPO}/releases").json()
        assert [(a["state"], a["size"]) for a in release["assets"]] == [("starter", 5), ("open", 0)]
        assert requests.get(release["assets"][1]["browser_download_url"]).content == b""
