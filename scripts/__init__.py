"""The template's workflow as one package, run as ``python -m scripts COMMAND`` (__main__.py).

Modules, each with one job; each imports only those above it:

* runlock: one run at a time per project (the standard library alone: it runs before .tools)
* errors: UserError, and masking credentials in messages
* files: atomic writes, sha256 records, and the stamps that prove a file is the one hashed
* net: HTTP sessions, bounded reads; a download as one value (Download) that one Downloader fetches
* settings: every path and every setting, read once
* requirements: reading requirement files; rewriting, sealing and digesting locks
* assets: the release-file name rule, the Asset record, the asset index, the manifest
* github: the GitHub API client (ETag cache, the listing's cap, tags)
* page: the find-links pages (their only writer)
* stubs: a release wheel's metadata read by range requests, as a stub wheel for the resolver
* fetch: fetching release files and recording them, one by one or while the compile resolves
* cache: build/release-files, fetched and hashed once; re-renders the pages when it changes
* listing: the release files of MODEL_REPOS or of a published index
* backend: running pip-compile and pip, or uv (RESOLVER), the sources in their environment only
* warm: uv's cache filled with a compile's pins while the compile waits for its release files
* explain: a failed resolution as one message, and what to write instead (pure)
* platforms: the locks made to hold on every platform of PLATFORMS, and the check that they do
* checks: the offline checks of inputs and locks
* hashes: the hashes of pinned files, from what their sources say; a lock's missing ones added
* cutoffs: the release cooldown's rule as values: the cutoff, its header line, each resolver's
  options for it, the message when it leaves a requirement no version (pure)
* cooldown: the release cooldown (COOLDOWN) of one compile: the sources' upload times, and the
  sources that give none exempted and named
* fresh: whether a lock is up to date with its inputs; the scratch copy a compile starts from
* choose: the release file each release package is compiled with, round by round
* lock: compiling the locks (the release-package guard)
* audit: the locks' pins against OSV's advisories (pip-audit), and the allow-list
* install, wheels, deploy, pylock, publish, sbom, report, verify: the other steps
"""
