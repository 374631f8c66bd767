"""Write requirements-deploy.txt: the lock, installable anywhere with plain pip.

requirements.txt names release packages (spaCy's models) by name and version, which only the
links page resolves. Where people deploy (a Dockerfile, a Hugging Face Space, a PaaS) there is
no links page, so `make export` writes the same pins and hashes with each release package as a
direct reference to its release file's download URL:

    en-core-web-sm @ https://github.com/explosion/spacy-models/releases/download/... \\
        --hash=sha256:...

and `pip install --require-hashes -r requirements-deploy.txt` works with no links page, no
token and no API call. The URLs are those the lock records (its ``# release:`` lines). The lock
is checked first (verify.check, offline); no credential or private source is ever written: a
URL with credentials in it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

import common
import verify

LOCK = Path("requirements.txt")
DEPLOY = Path("requirements-deploy.txt")
HEADER = """\
# The lock for deployment, made by `make export` from requirements.txt: the same pins and hashes,
# each release package a direct reference to its release file. Install it anywhere with
#    pip install --require-hashes -r requirements-deploy.txt
# Do not edit: run `make export` after every change of requirements.txt.
"""
EXAMPLES = """\
examples:
  python scripts/export.py            # requirements.txt -> requirements-deploy.txt
"""


def export(lock: Path) -> str:
    """The text of the deploy lock for ``lock``, from the release URLs the lock records; raises
    UserError if the lock does not pass the offline checks."""
    problems = verify.check(lock, [], {})
    if problems:
        raise common.UserError("\n".join([*problems, f"{DEPLOY} was not written"]))
    urls = common.release_urls(lock)
    blocks = re.split(r"(?m)^(?=[A-Za-z0-9])", lock.read_text().split("\n\n", 1)[1])
    out = [HEADER, "\n"]
    for block in blocks:
        pin = common.PIN_LINE.match(block)
        if pin is None or canonicalize_name(pin[1]) not in urls:
            out.append(block)
            continue
        name = canonicalize_name(pin[1])
        url = sorted(urls[name], key=lambda url: not url.endswith(".whl"))[0]
        if urlsplit(url).username or urlsplit(url).password:
            raise common.UserError(f"{name}'s release URL holds a credential: not exported")
        out.append(f"{name} @ {url}{block[pin.end() :]}")
    return "".join(out)


@common.guarded
def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(__doc__, EXAMPLES)
    parser.parse_args(argv)
    if not LOCK.is_file():
        raise common.UserError(f"{LOCK} is missing: run `make requirements.txt` first")
    common.atomic_write_text(DEPLOY, export(LOCK))
    print(f"export: wrote {DEPLOY}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
