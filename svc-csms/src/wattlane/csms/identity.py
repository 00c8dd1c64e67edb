"""Charging-station identities: the last segment of the connection URL `/ocpp/<identity>`.

OCPP 2.0.1 (Part 4 §3.1 and the security profiles in Part 2) limits the identity to 48 characters
and, being used as the HTTP Basic username, it must not contain ':' (RFC 7617 splits user and
password at the first colon). We accept the 2.0.1 `identifierString` alphabet — letters, digits and
`* - _ = + | @ .` — minus ':'. That set is printable ASCII and needs no percent-encoding in a URL
path, so an identity reads the same in logs, URLs, certificates (CN) and Basic credentials.
"""

from __future__ import annotations

import re
from typing import Final

MAX_IDENTITY_LENGTH: Final = 48
_IDENTITY = re.compile(r"[A-Za-z0-9*\-_=+|@.]{1,48}")


def validate_identity(identity: str) -> bool:
    """True when `identity` is an acceptable station identity (1-48 chars of the alphabet above)."""
    # "." and ".." are inside the alphabet but read as path segments to proxies and routers.
    return _IDENTITY.fullmatch(identity) is not None and identity not in {".", ".."}
