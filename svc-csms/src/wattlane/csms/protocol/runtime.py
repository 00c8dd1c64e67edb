"""Process-level performance settings (see TOOLING.md, "WebSocket / OCPP performance facts")."""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import logging
import resource
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")

TLS_READ_BUFFER = 16 * 1024


def limit_tls_read_buffer(size: int = TLS_READ_BUFFER) -> None:
    """Shrink CPython's per-TLS-connection read buffer (256 KiB by default in 3.11).

    With thousands of mutual-TLS stations the default costs gigabytes; 16 KiB holds a full TLS
    record, so nothing is lost but memory. (uvloop has its own, smaller buffers.)
    """
    asyncio.sslproto.SSLProtocol.max_size = size  # type: ignore[attr-defined]


def raise_open_files_limit(wanted: int | None = None) -> int:
    """Raise the soft RLIMIT_NOFILE (to the hard limit, or `wanted`); return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None else min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open files limit to %d: %s", target, exc)
    return soft


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop when it is installed (16-80% faster here), else on asyncio."""
    limit_tls_read_buffer()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(main)
    return uvloop.run(main)
