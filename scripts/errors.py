"""The one kind of error a user sees, and the masking that keeps secrets out of every message.

A ``UserError`` is a problem the user can fix: ``python -m scripts`` prints it as one line (what,
where, how to fix), with every URL's credentials masked, and exits 1, never with a traceback.
"""

from __future__ import annotations

import re

# user:password@ (or token@) in any URL inside a string.
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


class UserError(Exception):
    """A problem the user can fix: printed as one message, exit status 1, no traceback."""


class NotFound(UserError):
    """A download answered 404."""


def mask_url(text: str) -> str:
    """Replace ``user:password@`` (or ``token@``) in every URL of ``text`` with ``****@``."""
    return _CREDENTIALS.sub(r"\g<scheme>****@", text)
