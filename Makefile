# The whole workflow, top to bottom in the order it runs:
#   tools -> links -> wheels -> requirements.txt -> install -> test -> verify -> audit -> upgrade
# `make` alone lists the targets. Every variable below can be set on the command line
# (`make install PYTHON=python3.11`) or in the environment. Needs GNU make 3.82 or newer and
# bash (macOS: `brew install make`, then run `gmake`).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
# The locks are written whole or not at all (`compile` renames a finished file into place), and
# make must never delete one, even when it is interrupted (`make install | head -1`).
.PRECIOUS: requirements.txt requirements-dev.txt requirements-model.in
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

.PHONY: help  ## list the targets and the variables you can set
help:
	@echo "Targets (make TARGET; the justfile has the same recipes):"
	@awk -F ' +## ' '/^\.PHONY: [a-z-]+ +## / {sub(/^\.PHONY: /, "", $$1); \
	  printf "  %-19s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables (make TARGET NAME=value):"
	@awk 'function show(name, text,  n, word, line, i) { n = split(text, word, " "); \
	    line = word[1]; for (i = 2; i <= n; i++) \
	      if (length(line) + 1 + length(word[i]) > 78) { \
	        printf "  %-19s %s\n", name, line; name = ""; line = word[i] \
	      } else line = line " " word[i]; \
	    printf "  %-19s %s\n", name, line } \
	  /^# / {doc = doc (doc == "" ? "" : " ") substr($$0, 3); next} \
	  /^[A-Z_]+ \?=/ {show($$1, doc)} {doc = ""}' $(MAKEFILE_LIST)

# This project's own settings (MODEL_REPOS): copier writes settings.mk, or edit it by hand.
include settings.mk

# The Python version requirements.txt is locked for: .python-version (read by pyenv, uv and
# actions/setup-python too).
PYTHON_VERSION := $(shell cat .python-version 2>/dev/null)
# the Python that makes .tools (its version must be .python-version's), and .venv when you set it
# (else .venv is made from the tools' Python, the same one)
PYTHON ?= $(shell command -v python$(PYTHON_VERSION) 2>/dev/null || echo python3)
# the project's environment, synced from requirements.txt (and requirements-dev.txt for tests)
VENV ?= .venv
# the template's own tools (pip-tools, pre-commit, just, ...)
TOOLS_VENV ?= .tools
# the GitHub API (GitHub Actions and GitHub Enterprise set their own)
GITHUB_API_URL ?= https://api.github.com
# extra find-links locations (space separated); may carry credentials, never written or echoed
FIND_LINKS ?=
# pip-tools (pip-compile, pip, python -m venv), or uv for all three: the same locks, faster
RESOLVER ?= pip-tools
# PRE=1 also links releases marked prerelease
PRE ?=
# packages `make upgrade` re-pins, e.g. PACKAGES="spacy en_core_web_sm" (default: all)
PACKAGES ?=
# extra arguments for pytest in `make test`
PYTEST_ARGS ?=
# OSV's query API, which `make audit` asks (or a mirror's); may carry a key, never echoed
OSV_URL ?= https://api.osv.dev/v1/query

# The package in scripts/ reads these from the environment (scripts/settings.py), so no value
# (a token, a licence key in a URL) ever appears on a command line that make echoes.
export MODEL_REPOS MODEL_OWNERS MODEL_INDEX_URL INDEX_PACKAGES GITHUB_API_URL FIND_LINKS PRE PACKAGES \
  RESOLVER PLATFORMS OSV_URL COOLDOWN

TOOLS := $(TOOLS_VENV)/bin
# Every step is a command of the package in scripts/ (`.tools/bin/python -m scripts --help`).
RUN := $(TOOLS)/python -m scripts
LINKS := build/model-links.html
# The guarded install: the pinned release files fetched, the locks checked, then synced.
INSTALL := $(RUN) install --python $(VENV)/bin/python

# One run at a time per project. The outermost make (yours, or the one a just recipe runs) takes
# the lock .run.lock before it reads a file time and holds it until it ends, however it ends (the
# operating system frees it: scripts/runlock.py); a second run waits, with one line naming the
# run that holds it. The makes a run starts itself (its recipes' $(MAKE), the hooks of `make
# lint`) find this folder in RUN_LOCKED and go on; -j jobs are one make. Any Python serves, so it
# works before `make tools` (with none at all, the first step says so); `make help` takes none.
RUN_LOCK := .run.lock
GOALS := $(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))
ifeq ($(filter $(CURDIR),$(RUN_LOCKED)),)
ifneq ($(filter-out help,$(GOALS)),)
RUN_LOCK_TAKEN := $(shell py=$(TOOLS)/python; [ -x $$py ] || py=$(PYTHON); \
  ! command -v $$py >/dev/null || $$py -I -S scripts/runlock.py $(RUN_LOCK) $$PPID $(GOALS))
ifneq ($(filter-out locked,$(RUN_LOCK_TAKEN)),)
$(error $(RUN_LOCK_TAKEN))
endif
export RUN_LOCKED += $(CURDIR)
endif
endif

# Steps that do not need each other run at once: the test tools' lock compiles while .venv is
# synced. Two jobs, when one target is asked for (`make clean install` cleans first) and make can
# (GNU make 4.3 or newer); `make -j1 install` runs every step one after the other.
ifeq ($(MAKELEVEL)$(words $(GOALS)),01)
ifneq ($(filter-out 3.% 4.0% 4.1% 4.2%,$(MAKE_VERSION)),)
MAKEFLAGS += --jobs=2
endif
endif

# The main path, in workflow order.

# The tools environment: made once, made again when requirements-tools.txt or the Python of
# .python-version changes (pip-compile runs in it, so the locks are for its Python). pip installs
# uv alone from its lines of the lock; uv installs the rest, every hash checked, in seconds.
$(TOOLS_VENV)/.installed: requirements-tools.txt .python-version
	$(call venv,$(TOOLS_VENV),$(PYTHON) -m venv,$(PYTHON))
	awk '/^uv==/ {take = 1; print; next} take && /^ / {print; next} {take = 0}' \
	  requirements-tools.txt > $(TOOLS_VENV)/uv-requirement.txt
	$(TOOLS)/python -m pip install --quiet --require-hashes --no-deps \
	  -r $(TOOLS_VENV)/uv-requirement.txt
	$(RUN) tools-install
	touch $@

.PHONY: tools  ## make the tools environment (.tools) from requirements-tools.txt
tools: $(TOOLS_VENV)/.installed

# The links page, made when missing; `make links` refreshes it from the releases API.
$(LINKS): | $(TOOLS_VENV)/.installed
	$(RUN) links

.PHONY: links  ## refresh build/model-links.html from the GitHub releases of MODEL_REPOS
links: | $(TOOLS_VENV)/.installed
	$(RUN) links

# Wheels with no release API, downloaded once into build/wheels and named in requirements-model.in.
requirements-model.in: requirements-model.in.raw | $(TOOLS_VENV)/.installed
	$(RUN) wheels
	touch $@

.PHONY: wheels  ## download the URLs of requirements-model.in.raw and write requirements-model.in
wheels: | $(TOOLS_VENV)/.installed
	$(RUN) wheels

# The lock file. `compile` lists the releases if they were not listed yet, caches the release files it
# will pin (so pip reads them from build/release-files, never twice from GitHub), compiles,
# guards and verifies. It records a digest of its inputs in requirements.txt and skips the
# compile while it matches, so file times alone (a fresh clone, a touched file) never cost a
# compile, nor an API request. settings.mk counts for its PLATFORMS, which the digest records.
requirements.txt: requirements.in requirements-model.in settings.mk | $(TOOLS_VENV)/.installed
	$(RUN) compile

# The test tools' lock, layered on requirements.txt (requirements-dev.in starts with
# `-c requirements.txt`, so a package in both has one version); `make test` adds it. When an
# edit changed no pin the two share, the compile of requirements.txt finds it up to date and
# marks it so, and this does not run (with two jobs, make may have read the file's time before:
# then this runs beside the sync and finds it up to date).
requirements-dev.txt: requirements-dev.in requirements.txt settings.mk | $(TOOLS_VENV)/.installed
	$(RUN) compile --dev

# The project environment, made when missing: it needs no lock, so with two jobs it is made
# while requirements.txt compiles (`python -m venv` takes seconds).
$(VENV)/pyvenv.cfg: | $(TOOLS_VENV)/.installed
	$(call venv,$(VENV),$(NEW_VENV),$(VENV_PYTHON))

# The environment synced when requirements.txt is newer (made again first if it is broken, or
# of another Python). The pinned release files are fetched into build/release-files first
# (once per machine, whatever the file times of a fresh clone: from the URLs the lock records,
# with no API request), so pip installs them from there; the lock is checked before pip reads
# it (`install`). src/ is put on the environment's path (a .pth file, no build and no hash to
# check), so your code imports.
$(VENV)/.synced: requirements.txt | $(VENV)/pyvenv.cfg $(TOOLS_VENV)/.installed
	$(call venv,$(VENV),$(NEW_VENV),$(VENV_PYTHON))
	$(INSTALL) requirements.txt
	$(VENV)/bin/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"),\
	  "_project_src.pth").write_text(str(pathlib.Path("src").resolve()) + "\n")'
	touch $@

# requirements-dev.txt is kept in step with requirements.txt here too: commit both together.
.PHONY: install  ## make or update .venv so it matches requirements.txt exactly
install: $(VENV)/.synced $(if $(wildcard requirements-dev.in),requirements-dev.txt)

.PHONY: sync  ## sync .venv from requirements.txt even if it looks up to date
sync: | $(TOOLS_VENV)/.installed
	rm -f $(VENV)/.synced
	$(MAKE) --no-print-directory install

# requirements.txt plus the test tools; `make install` takes them out again when it syncs.
$(VENV)/.synced-dev: $(VENV)/.synced requirements-dev.txt
	$(INSTALL) requirements.txt requirements-dev.txt
	touch $@

.PHONY: test  ## run your tests (tests/) in .venv, with the tools of requirements-dev.txt
test: $(VENV)/.synced-dev
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

.PHONY: verify  ## check the locks: pins, hashes, sources, secrets, release files, freshness
verify: | $(LINKS) $(TOOLS_VENV)/.installed
	$(RUN) verify

# Every pin of the locks against OSV's advisories, through pip-audit (names and versions alone are
# sent); the release packages are listed as not audited. A finding fails it unless
# audit-allow.toml allows it until a date.
.PHONY: audit  ## check every pin of the locks against OSV's advisories (audit-allow.toml)
audit: | $(TOOLS_VENV)/.installed
	$(RUN) audit

# What ships, for a security team: the pins of requirements.txt as CycloneDX JSON, the same bytes
# for the same lock.
.PHONY: sbom  ## write build/sbom.cdx.json: a CycloneDX bill of materials of requirements.txt
sbom: | $(TOOLS_VENV)/.installed
	$(RUN) sbom

# `compile --upgrade` keeps the lock it replaces (build/requirements-before.txt), which `report`
# compares the new one with.
.PHONY: upgrade  ## refresh links, re-pin to the newest allowed versions, sync, report, test
upgrade: | $(TOOLS_VENV)/.installed
	$(RUN) links
	$(RUN) compile --upgrade
	$(RUN) compile --dev --upgrade
	$(MAKE) --no-print-directory install
	$(RUN) report
	if [ -f requirements-deploy.txt ] || [ -f pylock.toml ]; then \
	  $(MAKE) --no-print-directory export; fi
	$(MAKE) --no-print-directory test

# The locks for deployment: the same pins and hashes, each model its release file's URL, so
# plain `pip install --require-hashes -r requirements-deploy.txt` works anywhere, and so does
# `pip install -r pylock.toml` (the standard lock, PEP 751: every platform of PLATFORMS).
.PHONY: export  ## write requirements-deploy.txt and pylock.toml, the locks plain pip installs
export: requirements.txt | $(TOOLS_VENV)/.installed
	$(RUN) export

# Maintenance: remaking the locks on demand, the template's own tools, publishing, tidying.

# `make lock` remakes the locks whatever the file times: after a hand edit that make refused,
# it keeps their pins and nothing else of them. No install follows, so uv's cache is not filled
# meanwhile (`--no-warm`, scripts/warm.py).
.PHONY: lock  ## remake requirements.txt and requirements-dev.txt now (keeping their pins)
lock: | $(LINKS) $(TOOLS_VENV)/.installed
	$(RUN) compile --no-warm
	$(if $(wildcard requirements-dev.in),$(RUN) compile --dev)

.PHONY: check-requirements  ## only check that the locks are what the .in files compile to
check-requirements: | $(TOOLS_VENV)/.installed
	@if [ -f requirements.txt ]; then $(MAKE) --no-print-directory $(LINKS) && \
	  $(RUN) compile --check; \
	else echo "requirements.txt not made yet: nothing to check"; fi

# Phony targets, not file rules: a fresh clone's file times must never trigger a re-pin.
.PHONY: tools-lock  ## re-pin the template's own tools after editing requirements-tools.in
tools-lock: | $(TOOLS_VENV)/.installed
	$(RUN) tools-lock

.PHONY: tools-upgrade  ## re-pin the tools to the newest versions requirements-tools.in allows
tools-upgrade: | $(TOOLS_VENV)/.installed
	$(RUN) tools-lock --upgrade

# A static index of the model release files, to publish once for a whole team (the workflow
# .github/workflows/index.yml puts it on GitHub Pages); others set MODEL_INDEX_URL to its URL.
# It lists the releases through the API (never from MODEL_INDEX_URL, whose index.json only
# gives the hashes already computed).
.PHONY: index  ## write build/index/: a static index of the models' release files, to publish
index: | $(TOOLS_VENV)/.installed
	$(RUN) index

.PHONY: lint  ## run the pre-commit hooks on every file
lint: | $(TOOLS_VENV)/.installed
	PATH="$(abspath $(TOOLS)):$$PATH" $(TOOLS)/pre-commit run --all-files

.PHONY: clean  ## remove what build/ and the caches hold (never a tracked file)
clean:
	find build -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -not -path './$(TOOLS_VENV)/*' -prune -exec rm -rf {} +

.PHONY: distclean  ## clean, and remove both environments (.venv, .tools) to start afresh
distclean: clean
	rm -rf $(VENV) $(TOOLS_VENV)

# How the two environments are made (the recipes above call these; read them last).
# $(call venv,DIR,MAKER,PY) makes the virtual environment DIR with MAKER, which runs the Python
# PY, unless DIR holds a working Python of PYTHON_VERSION (with pip, which the sync needs; uv
# needs none): one left half-made by an interrupted run, or by another Python, is made again.
# Only then is PY asked for (it stops with one line when PY is missing or is not the Python of
# .python-version), so a run that has its environment starts no other Python (a pyenv shim is
# slow to start).
venv = @$(1)/bin/python -c 'import sys$(if $(findstring uv,$(2)),,$(comma) pip); \
  sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_VERSION)")' 2>/dev/null || { \
  $(3) -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_VERSION)")' \
  2>/dev/null || { echo "error: PYTHON=$(3) is not Python $(PYTHON_VERSION), the version\
 requirements.txt is locked for (.python-version): install Python $(PYTHON_VERSION), or run\
 make with PYTHON=/path/to/python$(PYTHON_VERSION)" >&2; exit 1; } && \
  echo "$(2) $(1)" && rm -rf $(1) && $(2) $(1); }
comma := ,
# The Python .venv is made from: PYTHON when you set it, else the tools' own, which is the
# Python of .python-version already (a pyenv shim, asked twice, would cost half a second).
VENV_PYTHON := $(if $(filter command line environment,$(origin PYTHON)),$(PYTHON),$(TOOLS)/python)
# What makes the project's environment: uv in a blink, or the standard library's venv (either
# makes it from the base interpreter of a virtual environment's Python).
NEW_VENV := $(if $(filter uv,$(RESOLVER)),$(TOOLS)/uv venv --quiet --python $(VENV_PYTHON),$(VENV_PYTHON) -m venv)

# The template's own self-tests (`make selftest`): only in the template, not in a copy.
include $(wildcard selftests/selftests.mk)

# Anything else: an unknown target, or a file the workflow needs that is missing.
.DEFAULT:
	@echo "make: '$@' is neither a target of this Makefile nor a file it can make: see 'make help'" >&2
	@exit 2
