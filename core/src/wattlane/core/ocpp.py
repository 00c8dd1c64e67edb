"""OCPP identifiers every service validates the same way: station identities and card tokens.

Station identity: OCPP 2.0.1 (Part 4 §3.1 and the security profiles in Part 2) limits it to 48
characters and, being the HTTP Basic username, it must not contain ':' (RFC 7617 splits user and
password at the first colon). The 2.0.1 `identifierString` alphabet — letters, digits and
`* - _ = + | @ .` — minus ':' is printable ASCII that needs no percent-encoding in a URL path,
so an identity reads the same in logs, URLs, certificates (CN) and Basic credentials.

Card token (idTag / idToken): at most 36 characters of the `identifierString` alphabet (2.0.1
IdTokenType; 1.6 idTags are at most 20), compared case-insensitively (CiString).
"""

from __future__ import annotations

import re
from typing import Final

MAX_IDENTITY_LENGTH: Final = 48
MAX_ID_TOKEN_LENGTH: Final = 36
_IDENTITY = re.compile(r"[A-Za-z0-9*\-_=+|@.]{1,48}")
_ID_TOKEN = re.compile(r"[A-Za-z0-9*\-_=:+|@.]{1,36}")


def validate_identity(identity: str) -> bool:
    """True when `identity` is an acceptable station identity (1-48 chars of the alphabet above)."""
    # "." and ".." are inside the alphabet but read as path segments to proxies and routers.
    return _IDENTITY.fullmatch(identity) is not None and identity not in {".", ".."}


def normalize_id_token(token: str) -> str | None:
    """The canonical (upper-case) form of a card token, or None when it is not a valid one."""
    return token.upper() if _ID_TOKEN.fullmatch(token) else None
