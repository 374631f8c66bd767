# This project's settings, read by the Makefile (and so by the justfile). `copier copy` and
# `copier update` write this file from your answers; in a plain copy, edit it by hand.

# GitHub repositories whose release assets are linked (space separated)
MODEL_REPOS ?= explosion/spacy-models
# which repository owns a package that two of them offer: NAME=OWNER/REPO entries (space separated)
MODEL_OWNERS ?=
