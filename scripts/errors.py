"""The one kind of error a user sees, and the masking that keeps secrets out of every message.

A ``UserError`` is a problem the user can fix: ``python -m scripts`` prints it as one line (what,
where, how to fix), with every URL's credentials and query masked, and exits 1, never with a
traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

# user:password@ (or token@) in any URL inside a string.
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
# The query of any URL inside a string: a signed URL's is a credential (sig, jwt,
# X-Amz-Signature: the signed URLs GitHub's downloads redirect to). Punctuation that ends a
# sentence after it is kept.
_QUERY = re.compile(
    r"(?P<url>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#]*)\?[^\s#]*?(?P<end>[)\]}>'\",;:.!]*(?:[\s#]|$))"
)


class UserError(Exception):
    """A problem the user can fix: printed as one message, exit status 1, no traceback."""


class NotFound(UserError):
    """A download answered 404."""


class BrokeOff(UserError):
    """A transfer stopped before its end (the connection broke, or it stalled).

    ``kept`` is where what arrived waits for the next try to continue it, or None."""

    def __init__(self, message: str, kept: Path | None = None) -> None:
        super().__init__(message)
        self.kept = kept


def mask_url(text: str) -> str:
    """Replace ``user:password@`` (or ``token@``) in every URL of ``text`` with ``****@``, and
    every URL's query with ``****``."""
    text = _CREDENTIALS.sub(r"\g<scheme>****@", text)
    return _QUERY.sub(r"\g<url>?****\g<end>", text)
