# The same recipes as the Makefile, for people who use just. Each recipe runs its make target:
# make keeps track of what is up to date (file times), which just cannot, so the two never drift
# apart, every default lives in the Makefile and settings.mk, and that make holds the project's
# run lock as any make you start does (one run at a time). `make tools` installs just as
# .tools/bin/just (run `.tools/bin/just`, or put .tools/bin on PATH); or install it yourself
# (`pipx install rust-just`). Settings pass through the environment:
#   PYTHON=python3.11 just install       FIND_LINKS="https://user:key@wheels.example/" just install
#   RESOLVER=uv just install

set shell := ["bash", "-eu", "-o", "pipefail", "-c"]

make := "make --no-print-directory"

# list the recipes
[group('help')]
default:
    @{{ just_executable() }} --justfile {{ justfile() }} --list

# list the make targets and the variables you can set
[group('help')]
help:
    {{ make }} help

# make the tools environment (.tools) from requirements-tools.txt
[group('tools')]
tools:
    {{ make }} tools

# re-pin the template's own tools after editing requirements-tools.in
[group('tools')]
tools-lock:
    {{ make }} tools-lock

# re-pin the tools to the newest versions requirements-tools.in allows
[group('tools')]
tools-upgrade:
    {{ make }} tools-upgrade

# refresh build/model-links.html from the GitHub releases of MODEL_REPOS
[group('lock')]
links:
    {{ make }} links

# download the URLs of requirements-model.in.raw and write requirements-model.in
[group('lock')]
wheels:
    {{ make }} wheels

# compile requirements.txt from the .in files (only when they changed)
[group('lock')]
requirements:
    {{ make }} requirements.txt

# remake requirements.txt and requirements-dev.txt now (keeping their pins)
[group('lock')]
lock:
    {{ make }} lock

# compile requirements-dev.txt, the test tools (only when it or requirements.txt changed)
[group('lock')]
requirements-dev:
    {{ make }} requirements-dev.txt

# refresh links, re-pin to the newest allowed versions, sync, report, test
[group('lock')]
upgrade *packages:
    PACKAGES="{{ packages }}" {{ make }} upgrade

# make or update .venv so it matches requirements.txt exactly
[group('environment')]
install:
    {{ make }} install

# sync .venv from requirements.txt even if it looks up to date
[group('environment')]
sync:
    {{ make }} sync

# run your tests (tests/) in .venv, with the tools of requirements-dev.txt
[group('check')]
test *args:
    PYTEST_ARGS="{{ args }}" {{ make }} test

# check the locks: pins, hashes, sources, secrets, release files, freshness
[group('check')]
verify:
    {{ make }} verify

# only check that the locks are what the .in files compile to
[group('check')]
check-requirements:
    {{ make }} check-requirements

# check every pin of the locks against OSV's advisories (audit-allow.toml)
[group('check')]
audit:
    {{ make }} audit

# write build/sbom.cdx.json: a CycloneDX bill of materials of requirements.txt
[group('check')]
sbom:
    {{ make }} sbom

# write build/index/: a static index of the models' release files, to publish
[group('lock')]
index:
    {{ make }} index

# write requirements-deploy.txt, the lock plain pip installs anywhere
[group('lock')]
export:
    {{ make }} export

# run the pre-commit hooks on every file
[group('check')]
lint:
    {{ make }} lint

# remove what build/ and the caches hold (never a tracked file)
[group('clean')]
clean:
    {{ make }} clean

# clean, and remove both environments (.venv, .tools) to start afresh
[group('clean')]
distclean:
    {{ make }} distclean
