"""requirements-deploy.txt: the lock, installable anywhere with plain pip.

requirements.txt names release packages (spaCy's models) by name and version, which only the
links page resolves. Where people deploy (a Dockerfile, a Hugging Face Space, a PaaS) there is
no links page, so `make export` writes the same pins and hashes with each release package as a
direct reference to its release file's download URL:

    en-core-web-sm @ https://github.com/explosion/spacy-models/releases/download/... \\
        --hash=sha256:...

and `pip install --require-hashes -r requirements-deploy.txt` works with no links page, no
token and no API call. The URLs are those the lock records (its ``# release:`` lines). The lock
is checked first (offline); no credential or private source is ever written: a URL with
credentials in it is refused.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from . import checks
from .errors import UserError
from .files import atomic_write_text
from .requirements import direct_references, release_file_urls
from .settings import DEPLOY_LOCK, LOCK

HEADER = """\
# The lock for deployment, made by `make export` from requirements.txt: the same pins and hashes,
# each release package a direct reference to its release file. Install it anywhere with
#    pip install --require-hashes -r requirements-deploy.txt
# Do not edit: run `make export` after every change of requirements.txt.
"""


def deploy_lock() -> str:
    """The text of the deploy lock, from the release URLs requirements.txt records; raises
    UserError if the lock does not pass the offline checks."""
    problems = checks.lock_problems(LOCK, [], {})
    if problems:
        raise UserError("\n".join([*problems, f"{DEPLOY_LOCK} was not written"]))
    urls = release_file_urls(LOCK)
    for name, url in urls.items():
        if urlsplit(url).username or urlsplit(url).password:
            raise UserError(f"{name}'s release URL holds a credential: not exported")
    return HEADER + "\n" + direct_references(LOCK.read_text(), urls)


def export() -> None:
    """Write requirements-deploy.txt."""
    atomic_write_text(DEPLOY_LOCK, deploy_lock())
    print(f"export: wrote {DEPLOY_LOCK}")
