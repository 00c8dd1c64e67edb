"""interceptors: authentication, request context, error mapping with rich status details, and RPC
metrics - end to end over real gRPC against a ServiceServer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from prometheus_client import REGISTRY

from wattlane.core.client import channel
from wattlane.core.errors import (
    ERROR_DOMAIN,
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    decode_status,
    error_info,
    field_violations,
)
from wattlane.core.interceptors import AuthPolicy
from wattlane.core.server import ServiceServer
from wattlane.core.testing.probe import PUBLIC, SERVICE, Probe, ProbeClient, method, serve_probe, to_struct
from wattlane.core.testing.tokens import TokenMinter

LABEL = "probe-interceptors"  # the `service` metric label of this module's server


@pytest.fixture(scope="module")
async def served(minter: TokenMinter) -> AsyncIterator[tuple[ServiceServer, Probe]]:
    async with serve_probe(service=LABEL, verifier=minter.verifier()) as pair:
        yield pair


@pytest.fixture
def probe(served: tuple[ServiceServer, Probe]) -> Probe:
    return served[1]


@pytest.fixture
def target(served: tuple[ServiceServer, Probe]) -> str:
    return f"127.0.0.1:{served[0].port}"


async def call(
    target: str, name: str, request: dict[str, Any] | None = None, *, token: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    async with channel(target, token=token, max_attempts=1) as ch:
        return await ProbeClient(ch).call(name, request, **kwargs)


async def failure(
    target: str, name: str, request: dict[str, Any] | None = None, **kwargs: Any
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(target, name, request, **kwargs)
    return caught.value


def handled(grpc_method: str, code: str, service: str = LABEL) -> float:
    labels = {"service": service, "grpc_service": SERVICE, "grpc_method": grpc_method, "grpc_code": code}
    return REGISTRY.get_sample_value("wattlane_grpc_server_handled_total", labels) or 0.0


async def counted(grpc_method: str, code: str, expected: float) -> bool:
    """Whether the counter reaches `expected`. An abort sends the status before the handler's
    bookkeeping has run, so the client may see the error a moment before it is counted."""
    for _ in range(200):
        if handled(grpc_method, code) >= expected:
            break
        await asyncio.sleep(0.005)
    return handled(grpc_method, code) == expected


def observed(grpc_method: str) -> float:
    labels = {"service": LABEL, "grpc_service": SERVICE, "grpc_method": grpc_method}
    return REGISTRY.get_sample_value("wattlane_grpc_server_handling_seconds_count", labels) or 0.0


# ---------------------------------------------------------------------------------------------
# Authentication


def test_auth_policy() -> None:
    policy = AuthPolicy(frozenset({PUBLIC}))
    assert policy.is_public(PUBLIC)
    assert policy.is_public("/grpc.health.v1.Health/Check")
    assert policy.is_public("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert not policy.is_public(method("Whoami"))
    assert not policy.is_public("/grpc.healthy.Evil/Check")


async def test_public_method_without_token(target: str) -> None:
    reply = await call(target, "Public")
    assert reply["caller"] == "anonymous"


async def test_public_method_with_a_token_knows_the_caller(target: str, minter: TokenMinter) -> None:
    reply = await call(target, "Public", token=minter.user_token("u1"))
    assert reply["caller"] == "user:u1"


async def test_public_method_with_a_bad_token_is_unauthenticated(target: str, minter: TokenMinter) -> None:
    error = await failure(target, "Public", token=minter.user_token("u1", ttl=-60))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_authenticated_method_with_a_valid_token(target: str, minter: TokenMinter) -> None:
    assert (await call(target, "Whoami", token=minter.user_token("u7")))["caller"] == "user:u7"
    assert (await call(target, "Whoami", token=minter.service_token("billing")))[
        "caller"
    ] == "service:billing"


async def test_missing_token(target: str, probe: Probe) -> None:
    before = probe.calls["Whoami"]
    error = await failure(target, "Whoami")
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "bearer token is required" in (error.details() or "")
    info = error_info(error)
    assert info is not None
    assert (info.reason, info.domain) == ("UNAUTHENTICATED", ERROR_DOMAIN)
    assert probe.calls["Whoami"] == before  # the handler never ran


@pytest.mark.parametrize(
    "authorization",
    ["Token abc", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c", "bearerx"],
)
async def test_malformed_authorization(target: str, authorization: str) -> None:
    error = await failure(target, "Whoami", metadata=[("authorization", authorization)])
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_expired_token(target: str, minter: TokenMinter) -> None:
    error = await failure(target, "Whoami", token=minter.user_token(ttl=-60))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "token has expired"
    info = error_info(error)
    assert info is not None
    assert info.reason == "TOKEN_EXPIRED"


async def test_token_of_another_issuer_key(target: str) -> None:
    error = await failure(target, "Whoami", token=TokenMinter().user_token())
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "token is signed with an unknown key"


async def test_server_without_verifier_accepts_no_token(minter: TokenMinter) -> None:
    async with serve_probe(service=LABEL + "-noverifier") as (server, _):
        target = f"127.0.0.1:{server.port}"
        error = await failure(target, "Whoami", token=minter.user_token())
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert (await call(target, "Public"))["caller"] == "anonymous"


# ---------------------------------------------------------------------------------------------
# Request context


async def test_request_id_from_metadata(target: str, minter: TokenMinter) -> None:
    reply = await call(target, "Whoami", token=minter.user_token(), metadata=[("x-request-id", "req-42")])
    assert reply["request_id"] == "req-42"
    assert reply["method"] == method("Whoami")


async def test_request_id_is_generated_when_absent(target: str, minter: TokenMinter) -> None:
    token = minter.user_token()
    first, second = await call(target, "Whoami", token=token), await call(target, "Whoami", token=token)
    assert len(first["request_id"]) == 26
    assert first["request_id"] != second["request_id"]


async def test_request_id_is_truncated(target: str, minter: TokenMinter) -> None:
    reply = await call(target, "Whoami", token=minter.user_token(), metadata=[("x-request-id", "r" * 500)])
    assert reply["request_id"] == "r" * 128


async def test_no_trace_id_without_tracing(target: str, minter: TokenMinter) -> None:
    reply = await call(
        target,
        "Whoami",
        token=minter.user_token(),
        metadata=[("traceparent", "00-" + "a" * 32 + "-" + "b" * 16 + "-01")],
    )
    assert reply["trace_id"] == ""


# ---------------------------------------------------------------------------------------------
# Errors


ERRORS: list[tuple[DomainError, grpc.StatusCode]] = [
    (
        InvalidArgument(
            [FieldViolation("tenant.display_name", "is required"), FieldViolation("parent", "bad")]
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    (NotFound("tenants/t9"), grpc.StatusCode.NOT_FOUND),
    (AlreadyExists("tenant exists", reason="TENANT_EXISTS"), grpc.StatusCode.ALREADY_EXISTS),
    (PermissionDenied("tenants.update", "tenants/t9"), grpc.StatusCode.PERMISSION_DENIED),
    (Unauthenticated("who?"), grpc.StatusCode.UNAUTHENTICATED),
    (
        FailedPrecondition("node owns data", reason="NODE_HAS_DATA", metadata={"node": "t9"}),
        grpc.StatusCode.FAILED_PRECONDITION,
    ),
    (Aborted("etag mismatch"), grpc.StatusCode.ABORTED),
    (Unavailable("try later"), grpc.StatusCode.UNAVAILABLE),
    (ResourceExhausted("tenants/t1", "stations", 10, 10), grpc.StatusCode.RESOURCE_EXHAUSTED),
]


@pytest.mark.parametrize(("error", "code"), ERRORS, ids=[code.name for _, code in ERRORS])
async def test_domain_errors_become_status_codes_with_details(
    target: str, probe: Probe, minter: TokenMinter, error: DomainError, code: grpc.StatusCode
) -> None:
    probe.failures[code.name] = error
    before = handled("Fail", code.name)
    caught = await failure(target, "Fail", {"error": code.name}, token=minter.user_token())
    assert caught.code() == code
    assert caught.details() == error.message
    status = decode_status(caught)
    assert status is not None
    assert status.code == code.value[0]
    assert status.message == error.message
    info = error_info(caught)
    assert info is not None
    assert (info.reason, info.domain) == (error.reason, ERROR_DOMAIN)
    assert dict(info.metadata) == error.metadata
    if isinstance(error, InvalidArgument):
        assert field_violations(caught) == error.violations
    else:
        assert field_violations(caught) == []
    if isinstance(error, ResourceExhausted):
        quota = [d for d in status.details if d.Is(error_details_pb2.QuotaFailure.DESCRIPTOR)]
        assert len(quota) == 1
        failure_details = error_details_pb2.QuotaFailure()
        quota[0].Unpack(failure_details)
        assert [(v.subject, v.description) for v in failure_details.violations] == [
            ("tenants/t1", "10 used of 10 allowed")
        ]
    assert await counted("Fail", code.name, before + 1)


async def test_unexpected_exception_is_internal_without_its_text(
    target: str, probe: Probe, minter: TokenMinter, caplog: pytest.LogCaptureFixture
) -> None:
    probe.failures["boom"] = RuntimeError("password=hunter2 at db.internal:5432")
    before = handled("Fail", "INTERNAL")
    with caplog.at_level(logging.ERROR, logger="wattlane.rpc"):
        caught = await failure(
            target, "Fail", {"error": "boom"}, token=minter.user_token(), metadata=[("x-request-id", "rid-9")]
        )
    assert caught.code() == grpc.StatusCode.INTERNAL
    assert caught.details() == "internal error (request rid-9)"
    assert "hunter2" not in str(caught)
    assert "hunter2" not in (caught.debug_error_string() or "")
    status = decode_status(caught)
    assert status is None or all("hunter2" not in d.value.decode(errors="replace") for d in status.details)
    assert await counted("Fail", "INTERNAL", before + 1)
    # ... but the operators see it in the log, with the method.
    (record,) = [r for r in caplog.records if r.name == "wattlane.rpc"]
    assert record.getMessage() == f"unhandled error in {method('Fail')}"
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])


async def test_abort_inside_a_handler_keeps_its_code(target: str, minter: TokenMinter) -> None:
    before = handled("Abort", "NOT_FOUND")
    caught = await failure(target, "Abort", token=minter.user_token())
    assert caught.code() == grpc.StatusCode.NOT_FOUND
    assert caught.details() == "aborted by the handler"
    assert await counted("Abort", "NOT_FOUND", before + 1)


# ---------------------------------------------------------------------------------------------
# Streaming


async def test_stream_with_authentication_and_context(target: str, minter: TokenMinter) -> None:
    async with channel(target, token=minter.user_token("u3"), max_attempts=1) as ch:
        items = await ProbeClient(ch).stream("Count", {"n": 3}, metadata=[("x-request-id", "stream-1")])
    assert [i["i"] for i in items] == [0, 1, 2]
    assert {(i["caller"], i["request_id"], i["method"]) for i in items} == {
        ("user:u3", "stream-1", method("Count"))
    }


async def test_stream_requires_a_token(target: str) -> None:
    async with channel(target, max_attempts=1) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ProbeClient(ch).stream("Count", {"n": 3})
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_stream_failing_midway_sends_the_status_after_the_items(
    target: str, probe: Probe, minter: TokenMinter
) -> None:
    probe.failures["stream"] = PermissionDenied("stations.read", "stations/s3")
    before = handled("Count", "PERMISSION_DENIED")
    received: list[int] = []
    async with channel(target, token=minter.user_token(), max_attempts=1) as ch:
        stub = ch.unary_stream(
            method("Count"),
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=lambda b: b,
        )

        async def consume() -> None:
            async for _ in stub(to_struct({"n": 5, "fail_after": 2})):
                received.append(len(received))

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await consume()
    assert received == [0, 1]
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(caught.value)
    assert info is not None
    assert info.reason == "PERMISSION_DENIED"
    assert await counted("Count", "PERMISSION_DENIED", before + 1)


# ---------------------------------------------------------------------------------------------
# Metrics


async def test_metrics_count_every_call_once(target: str, minter: TokenMinter) -> None:
    token = minter.user_token()
    ok_before, unauth_before, seconds_before = (
        handled("Whoami", "OK"),
        handled("Whoami", "UNAUTHENTICATED"),
        observed("Whoami"),
    )
    for _ in range(3):
        await call(target, "Whoami", token=token)
    await failure(target, "Whoami")
    assert handled("Whoami", "OK") == ok_before + 3
    assert await counted("Whoami", "UNAUTHENTICATED", unauth_before + 1)
    assert observed("Whoami") == seconds_before + 4
    assert REGISTRY.get_sample_value("wattlane_grpc_server_in_flight", {"service": LABEL}) == 0


async def test_unknown_methods_add_no_label_values(target: str, minter: TokenMinter) -> None:
    """Metric labels stay bounded: a caller inventing method names cannot mint new series."""
    token = minter.user_token()
    async with channel(target, token=token, max_attempts=1) as ch:
        for name in ("NoSuchMethod", "x" * 50, "Whoami/../../etc"):
            stub = ch.unary_unary(f"/{SERVICE}/{name}")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(b"")
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(grpc.aio.AioRpcError):
            await ch.unary_unary("/tenant.t9.Station.s42/Call")(b"")
    known = {"Whoami", "Public", "Fail", "Abort", "Sleep", "Flaky", "Forward", "Count"}
    labels = {
        (s.labels["grpc_service"], s.labels["grpc_method"], s.labels["grpc_code"])
        for metric in REGISTRY.collect()
        if metric.name == "wattlane_grpc_server_handled"
        for s in metric.samples
        if s.labels.get("service") == LABEL
    }
    assert labels
    assert {service for service, _, _ in labels} == {SERVICE}
    assert {m for _, m, _ in labels} <= known
    assert {c for _, _, c in labels} <= {code.name for code in grpc.StatusCode}


def test_status_code_numbers_match_google_rpc() -> None:
    for _, code in ERRORS:
        assert code.value[0] == getattr(code_pb2, code.name)


@pytest.mark.parametrize(
    "error",
    [
        InvalidArgument(
            [FieldViolation(f"charging_point.field_{i}", f"is not valid: {'💥' * 60}") for i in range(40)]
        ),
        NotFound("tenants/" + "x" * 100_000),
        InvalidArgument.field("card.label", "must be at most 100 characters, got " + "é" * 20_000),
    ],
    ids=["many violations", "a huge resource name", "a huge description"],
)
async def test_an_error_of_any_size_reaches_the_caller_with_its_code(
    target: str, probe: Probe, minter: TokenMinter, error: DomainError
) -> None:
    """Messages and details echo requests: however large, the status must fit the 8 KiB of
    trailing metadata a gRPC client accepts by default (else the caller sees RESOURCE_EXHAUSTED
    "Stream removed" instead of the real code)."""
    probe.failures["big"] = error
    caught = await failure(target, "Fail", {"error": "big"}, token=minter.user_token())
    assert caught.code() == error.code
    assert (caught.details() or "").startswith(error.message[:20])
    violations = field_violations(caught)
    if isinstance(error, InvalidArgument):
        assert violations[0].field == error.violations[0].field


async def test_a_nul_character_in_any_text_field_is_refused_naming_it(target: str, probe: Probe) -> None:
    """PostgreSQL refuses NUL even as a query parameter: refused before the method runs."""
    caught = await failure(target, "Public", {"who": {"name": "a\x00b"}})
    assert caught.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(caught) == [
        FieldViolation(
            "fields['who'].struct_value.fields['name'].string_value", "must not contain NUL characters"
        )
    ]
    assert await call(target, "Public", {"who": "ok"})  # text without NUL passes
