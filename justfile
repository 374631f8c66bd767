# The same recipes as the Makefile, for people who use just (`pip install rust-just`).
# Each recipe runs its make target: make keeps track of what is up to date (file times), which
# just cannot, so the two can never drift apart. Settings pass through the environment:
#   PYTHON=python3.11 just install       FIND_LINKS="https://user:key@wheels.example/" just install

export PYTHON := env('PYTHON', 'python3')
export VENV := env('VENV', '.venv')
export TOOLS_VENV := env('TOOLS_VENV', '.tools')
export MODEL_REPOS := env('MODEL_REPOS', 'explosion/spacy-models')
export GITHUB_API_URL := env('GITHUB_API_URL', 'https://api.github.com')

make := "make --no-print-directory"

# list the recipes
default:
    @just --list

# make or update .venv so it matches requirements.txt exactly
install:
    {{ make }} install

# refresh build/model-links.html from the GitHub releases of MODEL_REPOS
links:
    {{ make }} links

# download the URLs of requirements-model.in.raw and write requirements-model.in
wheels:
    {{ make }} wheels

# compile requirements.txt from the .in files (only when they changed)
requirements:
    {{ make }} requirements.txt

# pip-sync .venv from requirements.txt even if it looks up to date
sync:
    {{ make }} sync

# check requirements.txt: pins, hashes, sources, secrets, release files, freshness
verify:
    {{ make }} verify

# refresh links, re-pin to the newest allowed versions, sync, report, test
upgrade *packages:
    PACKAGES="{{ packages }}" {{ make }} upgrade

# run the test suite with pytest in the tools environment
test *args:
    PYTEST_ARGS="{{ args }}" {{ make }} test

# run the pre-commit hooks on every file
lint:
    {{ make }} lint

# remove what build/ and the caches hold (never a tracked file)
clean:
    {{ make }} clean
