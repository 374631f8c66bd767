"""A loopback stand-in of OSV's query API (https://api.osv.dev/v1/query), for `make audit`.

It answers as OSV answers pip-audit, which asks one ``POST /v1/query`` per pin (pypa/pip-audit
``pip_audit/_service/osv.py``: ``{"package": {"name": CANONICAL, "ecosystem": "PyPI"},
"version": V}``) and reads ``vulns[]``: each record's ``id``, ``aliases``, ``summary``,
``published``, ``withdrawn`` and its ``affected[]`` entry of that package, whose ``ECOSYSTEM``
range's ``fixed`` events are the fixed versions. The request and answer shapes are OSV's
(google/osv.dev ``docs/api/post-v1-query.md``; the record is the OSV schema, ossf/osv-schema
``docs/schema.md``): a version is affected when a range of the package holds it
(``introduced`` <= version < ``fixed``, PyPI versions ordered as PEP 440 orders them) or its
``versions`` list names it. A query that matches nothing is answered ``{}``, as OSV does (and
pip-audit reads as "no advisory"). OSV's batch endpoint (``/v1/querybatch``) is not served:
pip-audit does not use it. Every request is logged (path, headers, body), so a test can show
what reached the advisory service, and what did not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

HOST = "127.0.0.5"  # apart from GitHub's stand-in and the private mirror, so logs tell them apart


@dataclass(frozen=True)
class Advisory:
    """One OSV record of a PyPI package: affected from ``introduced`` up to ``fixed`` (none:
    every later version too)."""

    id: str
    package: str
    introduced: str = "0"
    fixed: str | None = None
    aliases: tuple[str, ...] = ()
    summary: str = "a stand-in advisory"

    def affects(self, name: str, version: str) -> bool:
        if canonicalize_name(name) != canonicalize_name(self.package):
            return False
        try:
            v = Version(version)
        except InvalidVersion:
            return False
        low = self.introduced == "0" or v >= Version(self.introduced)
        return low and (self.fixed is None or v < Version(self.fixed))

    def record(self) -> dict[str, Any]:
        """The record as OSV serves it (OSV schema 1.x; an ECOSYSTEM range of events)."""
        events: list[dict[str, str]] = [{"introduced": self.introduced}]
        events += [{"fixed": self.fixed}] if self.fixed else []
        name = canonicalize_name(self.package)
        return {
            "schema_version": "1.6.0",
            "id": self.id,
            "modified": "2026-01-02T03:04:05Z",
            "published": "2026-01-01T00:00:00Z",
            "aliases": list(self.aliases),
            "summary": self.summary,
            "details": f"{self.summary}.\n\nA second paragraph, as OSV's details have.",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                }
            ],
            "references": [{"type": "ADVISORY", "url": f"https://osv.dev/vulnerability/{self.id}"}],
        }


@dataclass
class OSVStandIn:
    """The advisories it serves, and every request it got."""

    advisories: list[Advisory] = field(default_factory=list)
    log: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""  # its query URL, what OSV_URL is set to
    latency: float = 0.0  # seconds added to each answer (benchmarks: the trip to OSV)

    def queried(self) -> set[tuple[str, str]]:
        """(name, version) of every query it answered."""
        found = set()
        for path, _, body in self.log:
            if path == "/v1/query":
                query = json.loads(body)
                found.add((query["package"]["name"], query["version"]))
        return found

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """OSV's status and JSON for a POST of ``body`` to ``path``."""
        if path != "/v1/query":
            return 404, {"code": 5, "message": "Not Found"}
        try:
            query = json.loads(body)
            package, version = query["package"], query["version"]
            name, ecosystem = package["name"], package["ecosystem"]
        except (ValueError, KeyError, TypeError):
            return 400, {"code": 3, "message": "Invalid query."}
        if ecosystem != "PyPI":
            return 200, {}
        vulns = [a.record() for a in self.advisories if a.affects(name, version)]
        return 200, {"vulns": vulns} if vulns else {}


@contextmanager
def run_osv(host: str = HOST) -> Iterator[OSVStandIn]:
    """Serve an ``OSVStandIn`` on ``host`` while the block runs."""
    from e2e import serving

    standin = OSVStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            standin.log.append((self.path, dict(self.headers.items()), body))
            time.sleep(standin.latency)
            status, answer = standin.answer(self.path.split("?")[0], body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            standin.log.append((self.path, dict(self.headers.items()), b""))
            self.send_response(405)  # the query API takes POSTs
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(ThreadingHTTPServer((host, 0), Handler)) as port:
        standin.url = f"http://{host}:{port}/v1/query"
        yield standin
