"""logs: JSON lines with the call's request id, method and trace id."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from wattlane.core import logs
from wattlane.core.context import method_var, request_id_var
from wattlane.core.logs import JsonFormatter, current_trace_id

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("wattlane.test")
    rec = logger.makeRecord(
        "wattlane.test", logging.WARNING, __file__, 1, message, args or ("world",), None, extra=extra
    )
    return rec


def formatted(rec: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter("svc").format(rec)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def in_span() -> trace.Span:
    return NonRecordingSpan(
        SpanContext(TRACE_ID, 0x00F067AA0BA902B7, is_remote=False, trace_flags=TraceFlags(1))
    )


def test_plain_record() -> None:
    entry = formatted(record())
    assert entry.keys() == {"time", "level", "service", "logger", "message"}
    assert entry["level"] == "warning"
    assert entry["service"] == "svc"
    assert entry["logger"] == "wattlane.test"
    assert entry["message"] == "hello world"
    assert str(entry["time"]).endswith("Z")


def test_call_context_and_extras() -> None:
    rid, method = request_id_var.set("rid-1"), method_var.set("/pkg.Svc/Do")
    try:
        with trace.use_span(in_span()):
            entry = formatted(record(grpc_port=50051, station=object()))
    finally:
        request_id_var.reset(rid)
        method_var.reset(method)
    assert entry["request_id"] == "rid-1"
    assert entry["method"] == "/pkg.Svc/Do"
    assert entry["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert entry["grpc_port"] == 50051
    assert str(entry["station"]).startswith("<object object")  # anything else as its str()


def test_exception() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        rec = record()
        rec.exc_info = sys.exc_info()
    entry = formatted(rec)
    assert "ValueError: bad value" in str(entry["exception"])


def test_trace_id_outside_a_span() -> None:
    assert current_trace_id() == ""
    with trace.use_span(in_span()):
        assert current_trace_id() == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("aiosqlite", "sqlalchemy.engine", "alembic")}
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in noisy.items():
        logging.getLogger(name).setLevel(old)


def test_configure_json(root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logs.configure("identity", level="debug")
    assert len(root_logger.handlers) == 1
    assert root_logger.level == logging.DEBUG
    assert logging.getLogger("sqlalchemy.engine").level == logging.WARNING
    logging.getLogger("wattlane.x").info("ready", extra={"grpc_port": 1})
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert (entry["service"], entry["message"], entry["grpc_port"]) == ("identity", "ready", 1)


def test_configure_console(root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    logs.configure("identity", level="error", json=False)
    assert logging.getLogger("alembic").level == logging.ERROR
    logging.getLogger("wattlane.x").error("broken")
    assert stream.getvalue().rstrip().endswith("identity ERROR wattlane.x: broken")
