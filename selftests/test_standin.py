"""The GitHub stand-in (selftests/standin.py) behaves like GitHub where the scripts depend on it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from urllib.parse import parse_qsl, quote, urlsplit

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
        assert int(past.headers["X-RateLimit-Remaining"]) == 60 - 2  # it counts, too
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
        assert answer.url.startswith(f"{github.storage_url}/github-production-release-asset/")
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
        redirect = requests.get(url, allow_redirects=False)
        assert redirect.headers["Content-Type"] == "text/html;charset=utf-8"  # notes row 21
        assert redirect.content == b""
        signed = redirect.headers["Location"]
        parts = urlsplit(signed)
        query = dict(parse_qsl(parts.query))
        assert re.fullmatch(r"/github-production-release-asset/1/[0-9a-f-]{36}", parts.path)
        assert list(query)[:5] == ["sp", "sv", "sr", "spr", "se"]  # the recorded form
        assert {"sig", "jwt", "response-content-disposition"} <= query.keys()
        assert "rscd=attachment%3B+filename%3Da-1.0.tar.gz" in parts.query
        assert re.search(r"&sig=[A-Za-z0-9%]+%3D&jwt=eyJ", parts.query)  # base64, %-encoded
        claims = json.loads(base64.urlsafe_b64decode(query["jwt"].split(".")[1] + "=="))
        assert time.time() + 60 < claims["exp"] < time.time() + 3600  # minutes ahead
        both = requests.get(signed, headers={"Authorization": "Bearer secret"})
        assert (both.status_code, both.text) == (400, "Only one auth mechanism allowed")
        forged = signed.replace(quote(query["sig"], safe=""), quote("0" * 43 + "=", safe=""))
        assert forged != signed and requests.get(forged).status_code == 403
        expiry = quote(query["se"], safe="")
        later = signed.replace(f"se={expiry}", f"se={expiry.replace('20', '21', 1)}")
        assert later != signed and requests.get(later).status_code == 403  # signed expiry
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
        assert redirect.headers["Location"].startswith(
            f"{github.storage_url}/github-production-release-asset/"
        )
        assert redirect.headers["Content-Type"] == "text/html;charset=utf-8"
        assert int(redirect.headers["X-RateLimit-Remaining"]) == 60 - 3  # it counts
        assert requests.get(listed["url"], headers=octet).content == b"bytes"
        missing = f"{github.api_url}/repos/{REPO}/releases/assets/999999"
        assert requests.get(missing, headers=octet).status_code == 404
        assert github.downloads("a-1.0.tar.gz") == 1


def test_private_repository_needs_the_token_and_its_browser_urls_are_404() -> None:
    with run_standin() as github:
        github.token = "secret"
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
        assert github.rate_remaining["token"] == 5000 - 6
        for url, answer in ((f"{by_tag}/v1.9", release), (f"{refs}/v1", tags)):
            again = requests.get(url, headers={**auth, "If-None-Match": answer.headers["ETag"]})
            assert again.status_code == 304
        assert github.rate_remaining["token"] == 5000 - 6  # a 304 costs nothing


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


def test_gzip_bodies_weak_etags_and_the_strong_form_on_304() -> None:
    """Notes row 17: with gzip a 200's ETag is weak and its 304 gives the strong form; without
    gzip the ETag is strong; either form gets the 304."""
    with run_standin() as github:
        github.add_synthetic(REPO, 3)
        listing = f"{github.api_url}/repos/{REPO}/releases"
        raw = requests.get(listing, stream=True)  # requests asks for gzip by itself
        assert raw.headers["Content-Encoding"] == "gzip"
        assert raw.raw.read(decode_content=False)[:2] == b"\x1f\x8b"
        zipped = requests.get(listing)
        assert re.fullmatch(r'W/"[0-9a-f]{64}"', zipped.headers["ETag"]) and len(zipped.json()) == 3
        plain = requests.get(listing, headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers
        assert plain.headers["ETag"] == zipped.headers["ETag"].removeprefix("W/")
        for etag in (zipped.headers["ETag"], plain.headers["ETag"]):
            again = requests.get(listing, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.headers["ETag"] == plain.headers["ETag"]
            assert "Content-Type" not in again.headers and again.content == b""
        assert zipped.headers["Cache-Control"] == "public, max-age=60, s-maxage=60"
        github.token = "secret"
        private = requests.get(listing, headers={"Authorization": "Bearer secret"})
        assert private.headers["Cache-Control"] == "private, max-age=60, s-maxage=60"


def test_every_api_answer_has_rate_headers_and_a_request_id() -> None:
    """Notes row 18: 200, 302, 304, 404, 422 alike; a 401 has no X-RateLimit-* (row 13)."""
    with run_standin() as github:
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"a"})
        listing = f"{github.api_url}/repos/{REPO}/releases"
        ok = requests.get(listing)
        (asset,) = ok.json()[0]["assets"]
        octet = {"Accept": "application/octet-stream"}
        answers = [
            ok,
            requests.get(asset["url"], headers=octet, allow_redirects=False),
            requests.get(listing, headers={"If-None-Match": ok.headers["ETag"]}),
            requests.get(f"{github.api_url}/repos/acme/none/releases"),
            requests.get(listing, params={"page": 99}),  # past the first 1,000 results
        ]
        assert [a.status_code for a in answers] == [200, 302, 304, 404, 422]
        for answer in answers:
            assert answer.headers["X-RateLimit-Limit"] == "60"
            assert {"X-RateLimit-Reset", "X-RateLimit-Used", "X-RateLimit-Resource"} <= set(
                answer.headers
            )
            assert answer.headers["X-GitHub-Request-Id"]
        assert len({a.headers["X-GitHub-Request-Id"] for a in answers}) == len(answers)


def test_anonymous_callers_get_60_an_hour_and_a_token_5000() -> None:
    """Notes row 12: 60 requests an hour without a token; then GitHub's 403 with remaining 0."""
    with run_standin() as github:
        github.token = "secret"
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"a"})
        listing = f"{github.api_url}/repos/{REPO}/releases"
        statuses = [requests.get(listing).status_code for _ in range(61)]
        assert statuses == [200] * 60 + [403]
        limited = requests.get(listing)
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.json()["message"].startswith("API rate limit exceeded")
        with_token = requests.get(listing, headers={"Authorization": "Bearer secret"})
        assert with_token.status_code == 200
        assert with_token.headers["X-RateLimit-Limit"] == "5000"
        assert with_token.headers["X-RateLimit-Remaining"] == "4999"


def test_a_token_github_does_not_know_gets_401_even_when_none_is_set() -> None:
    """Issue 23: the token check is always on. No token at all is anonymous (notes row 13)."""
    with run_standin() as github:
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"a"})
        listing = f"{github.api_url}/repos/{REPO}/releases"
        for auth in ("Bearer anything", "token anything", "Basic dXNlcjpwYXNz"):
            answer = requests.get(listing, headers={"Authorization": auth})
            assert answer.status_code == 401 and answer.json()["message"] == "Bad credentials"
        assert requests.get(listing).status_code == 200


def test_the_secondary_limit_as_recorded() -> None:
    """Notes row 19: 403, Retry-After, no X-RateLimit-* headers, a message saying so."""
    with run_standin() as github:
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": b"a"})
        listing = f"{github.api_url}/repos/{REPO}/releases"
        github.secondary_limit(times=1, retry_after=60)
        limited = requests.get(listing)
        assert limited.status_code == 403 and limited.headers["Retry-After"] == "60"
        assert not [name for name in limited.headers if name.lower().startswith("x-ratelimit")]
        assert "secondary rate limit" in limited.json()["message"]
        assert requests.get(listing).status_code == 200  # once
        github.secondary_limit(status=429, retry_after=None)
        bare = requests.get(listing)
        assert bare.status_code == 429 and "Retry-After" not in bare.headers


def test_storage_answers_ranges_and_if_range() -> None:
    """RFC 9110 section 14: 206 with Content-Range, 416 past the end; If-Range naming another
    upload gets the whole file (200). The storage 200 as recorded (notes row 21)."""
    with run_standin() as github:
        data = bytes(range(256)) * 4
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": data})
        (asset,) = requests.get(f"{github.api_url}/repos/{REPO}/releases").json()[0]["assets"]
        url = asset["browser_download_url"]
        whole = requests.get(url)
        assert whole.headers["Accept-Ranges"] == "bytes"
        assert whole.headers["Content-Type"] == "application/octet-stream"
        assert whole.headers["Content-Disposition"] == "attachment; filename=a-1.0.tar.gz"
        modified = whole.headers["Last-Modified"]
        rest = requests.get(url, headers={"Range": "bytes=1000-", "If-Range": modified})
        assert rest.status_code == 206 and rest.content == data[1000:]
        assert rest.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
        assert rest.headers["Last-Modified"] == modified
        some = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": whole.headers["ETag"]})
        assert some.status_code == 206 and some.content == data[:10]
        past = requests.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{len(data)}"
        stale = requests.get(url, headers={"Range": "bytes=10-", "If-Range": '"0xOTHER"'})
        assert stale.status_code == 200 and stale.content == data
        # whole, the rest from 1000, ten bytes, nothing for the 416, whole again
        assert github.served("a-1.0.tar.gz") == len(data) + (len(data) - 1000) + 10 + len(data)


def test_a_download_cut_at_a_fraction_counts_what_was_sent() -> None:
    with run_standin() as github:
        data = b"x" * 1000
        github.add_release(REPO, "v1", {"a-1.0.tar.gz": data})
        (asset,) = requests.get(f"{github.api_url}/repos/{REPO}/releases").json()[0]["assets"]
        github.truncate("a-1.0.tar.gz", at=0.9)
        cut = requests.get(asset["browser_download_url"], stream=True)
        with cut, pytest.raises(requests.exceptions.ChunkedEncodingError):
            cut.content  # noqa: B018
        assert github.served("a-1.0.tar.gz") == 900
