"""Per-request context carried in contextvars: request id and the calling principal.

The gRPC interceptor sets these for each call; logging, audit and idempotency read them, so no
function signature has to thread them through by hand.
"""

from __future__ import annotations

import contextvars

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("wattlane_request_id", default="")
method_var: contextvars.ContextVar[str] = contextvars.ContextVar("wattlane_method", default="")
