# This project's settings, read by the Makefile (and so by the justfile). `copier copy` and
# `copier update` write this file from your answers; in a plain copy, edit it by hand.

# the platforms every lock must install on (space separated): linux-x86_64 linux-aarch64
# macos-arm64 macos-x86_64 windows-x86_64, or linux, macos, windows for all of one system's;
# empty: only the kind of machine that compiles the locks
PLATFORMS ?= linux macos windows
# how long a version must have been published before `make upgrade` (or the first compile of a
# new requirement) takes it, e.g. 7 days, 12 hours, 2 weeks; 0 turns the cooldown off
COOLDOWN ?= 7 days
# GitHub repositories whose release assets are linked (space separated)
MODEL_REPOS ?= explosion/spacy-models
# which repository owns a package that two of them offer: NAME=OWNER/REPO entries (space separated)
MODEL_OWNERS ?=
# a published index of the release files (`make index`), e.g. https://acme.github.io/models:
# when set, release files are listed from it and the releases API is not asked
MODEL_INDEX_URL ?=
# which packages `make index` covers (names or patterns such as en_core_web_*; default: the
# models requirements.in names)
INDEX_PACKAGES ?=
