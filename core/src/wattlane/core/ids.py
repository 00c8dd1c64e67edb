"""Opaque, time-ordered resource ids (ULIDs).

Ids sort by creation time, so keyset pagination by id lists oldest first and B-tree inserts stay
append-mostly. They carry no tenant information; a path is built from them (see `tenancy`).
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """Return a new 26-character ULID: 48 bits of milliseconds, then 80 random bits.

    Within one process ids are strictly increasing (monotonic ULIDs): a second id in the same
    millisecond is the previous one plus one, so rows made in one request keep their order."""
    global _last
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if value <= _last:
            value = _last + 1
        _last = value
    out = []
    for _ in range(26):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def is_id(text: str) -> bool:
    """True when `text` looks like an id produced by `new_id` (or a fixed built-in id)."""
    return 0 < len(text) <= 64 and all(c.isalnum() or c in "-_" for c in text)
