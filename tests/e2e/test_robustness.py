"""Every RPC of every service, found through gRPC server reflection, answers garbage with a clear
status: never INTERNAL or UNKNOWN (the developers' guide: every bad input gets a status naming
what is wrong).

One started stack (tests/conftest.py: `real_stack`). Each method gets the requests of
`tests.support.garbage` (seeded per method, so a failure reproduces), as an operator admin (so
authorization does not hide the validation) and unauthenticated; the internal services also with
each internal service account's token. Server-streaming methods are read to the end."""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Callable

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.assets.helpers import card, location, point, uid
from tests.support.assets import AssetsStack, Org, organization
from tests.support.garbage import Garbage
from tests.support.processes import ADMIN_EMAIL, ADMIN_PASSWORD, RealStack
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.billing.v1 import tariffs_pb2
from wattlane.api.identity.v1 import accounts_pb2, auth_pb2, internal_pb2_grpc, roles_pb2
from wattlane.core.client import channel
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.billing import BillingClient
from wattlane.core.clients.identity import IdentityClient
from wattlane.core.errors import field_violations
from wattlane.identity.testing import TreeBuilder

GRPC_SERVICES = ("identity", "billing", "assets", "csms")
# Leaf fields tried one at a time per method (the whole-request fills cover every field).
PER_FIELD = 32
# Calls in flight at once: the services are single processes on a shared 2-core machine.
CONCURRENCY = 8
# What no request may get: INTERNAL, UNKNOWN, or a status too large for the client to read
# (which it sees as RESOURCE_EXHAUSTED "Stream removed ... metadata size exceeds ...").
FORBIDDEN = {"INTERNAL", "UNKNOWN", "UNREADABLE_STATUS"}
# Answers that are not a verdict on the request: the walk's own deadline.
TIMEOUT = 20.0
# Calls spent per method making its plausible request acceptable (see `_repaired`).
REPAIR_CALLS = 30
DESTRUCTIVE = ("Delete", "Move", "Logout", "Revoke")


def _methods(address: str) -> list[MethodDescriptor]:
    """Every method of every service the server at `address` lists through reflection (its
    descriptors as the server sends them, not the ones this test was built with)."""
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = descriptor_pool.DescriptorPool(database)
        out: list[MethodDescriptor] = []
        for name in database.get_services():
            if name.startswith(("grpc.health.", "grpc.reflection.")):
                continue
            out.extend(pool.FindServiceByName(name).methods)
        # Resolve every type now, while the channel is open.
        for method in out:
            message_factory.GetMessageClass(method.input_type)
        return out


async def _call(
    channel: grpc.aio.Channel, method: MethodDescriptor, request: Message, token: str
) -> tuple[str, list[str]]:
    """The status a call ends with (its code's name, or UNREADABLE_STATUS), and the fields its
    INVALID_ARGUMENT names."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    serialize: Callable[[Message], bytes] = lambda m: m.SerializeToString()  # noqa: E731
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path, request_serializer=serialize, response_deserializer=bytes)
            async for _ in stream(request, metadata=metadata, timeout=TIMEOUT):
                pass
        else:
            unary = channel.unary_unary(path, request_serializer=serialize, response_deserializer=bytes)
            await unary(request, metadata=metadata, timeout=TIMEOUT)
    except grpc.aio.AioRpcError as error:
        if "metadata size exceeds" in (error.details() or ""):
            return "UNREADABLE_STATUS", []
        return error.code().name, [v.field for v in field_violations(error)]
    return "OK", []


async def _repaired(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    base: Message,
    token: str,
    garbage: Garbage,
    failures: list[str],
) -> tuple[Message, int, str]:
    """`base` with the fields the service refuses replaced by plausible values that it takes
    (greedy, at most REPAIR_CALLS calls), so that garbage in one field meets a request the
    service reads past validation; the calls spent; and the status `base` gets. An
    INTERNAL/UNKNOWN on the way is a failure like any other."""
    calls = 0
    code, refused = await _call(channel, method, base, token)
    calls += 1
    tried: set[str] = set()
    while code == "INVALID_ARGUMENT" and calls < REPAIR_CALLS:
        pending = [f for f in refused if f not in tried]
        if not pending:
            break
        path = pending[0]
        tried.add(path)
        for candidate in garbage.repairs(base, path):
            if calls >= REPAIR_CALLS:
                break
            new_code, new_refused = await _call(channel, method, candidate, token)
            calls += 1
            if new_code in FORBIDDEN:
                failures.append(f"{method.full_name} [repair] {path}: {new_code}\n    {candidate}")
                continue
            if path not in new_refused:
                base, code, refused = candidate, new_code, new_refused
                break
    return base, calls, code


async def _admin_token(identity: str) -> str:
    """A fresh operator admin token."""
    client = IdentityClient(identity)
    try:
        reply = await client.auth.Login(auth_pb2.LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD))
        return reply.access_token
    finally:
        await client.close()


async def _real_names(real_stack: RealStack, tokens: dict[str, str]) -> dict[str, str]:
    """A few real resources of each kind (collection -> name), so that plausible requests get
    past "not found" to the fields that carry the garbage."""
    identity, assets = real_stack["identity"], real_stack["assets"]
    admin = await IdentityClient(identity.grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    worker = channel(identity.grpc, token=tokens["service:worker"], max_attempts=1)
    stack = AssetsStack(
        None,  # type: ignore[arg-type]
        assets.grpc,
        tokens["service:csms"],
        internal_pb2_grpc.IdentityInternalServiceStub(worker),  # type: ignore[arg-type]
    )
    tree = TreeBuilder(admin)
    try:
        org: Org = await organization(tree, stack)
        client = AssetsClient(assets.grpc, org.admin.client.token)
        site = await location(client, org.org.name)
        station = await point(client, site.name)
        connector = await client.charging_points.CreateConnector(
            cp_pb2.CreateConnectorRequest(
                parent=station.name,
                connector=cp_pb2.Connector(evse_id=1, connector_id=1, type=cp_pb2.Connector.TYPE_2),
            )
        )
        tag = await card(client, org.admin.user.name, uid())
        role = await admin.roles.CreateRole(
            roles_pb2.CreateRoleRequest(
                parent=org.customer.name,
                role=roles_pb2.Role(display_name="Robust", permissions=["tenants.read"]),
            )
        )
        binding = await admin.roles.CreateRoleBinding(
            roles_pb2.CreateRoleBindingRequest(
                role_binding=roles_pb2.RoleBinding(
                    user=org.admin.user.name, role=role.name, tenant=org.org.name
                )
            )
        )
        applications = await admin.applications.ListApplications(
            accounts_pb2.ListApplicationsRequest(parent=org.customer.name)
        )
        billing = BillingClient(real_stack["billing"].grpc, admin.token)
        energy = tariffs_pb2.PriceComponent(type=tariffs_pb2.ENERGY, price="0.25", vat="21", step_size=1)
        tariff = await billing.tariffs.CreateTariff(
            tariffs_pb2.CreateTariffRequest(
                parent=org.customer.name,
                tariff=tariffs_pb2.Tariff(
                    parent=org.customer.name,
                    display_name="Robust rate",
                    currency="EUR",
                    elements=[tariffs_pb2.TariffElement(price_components=[energy])],
                ),
            )
        )
        await billing.close()
        await client.close()
        names = [
            org.org.name, org.admin.user.name, org.account.name, site.name, station.name,
            connector.name, tag.name, role.name, binding.name, applications.applications[0].name,
            tariff.name,
        ]  # fmt: skip
        found = {name.rsplit("/", 2)[-2]: name for name in names}
        return found | {
            "stations": f"stations/{station.ocpp_identity}",
            "assetSettings": f"{org.org.name}/assetSettings",
        }
    finally:
        await tree.close()
        await worker.close(None)
        await admin.close()


async def _service_tokens(identity: str, secrets: dict[str, str]) -> dict[str, str]:
    client = IdentityClient(identity)
    try:
        tokens = {}
        for account, secret in secrets.items():
            reply = await client.auth.IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(client_id=account, client_secret=secret)
            )
            tokens[f"service:{account}"] = reply.access_token
        return tokens
    finally:
        await client.close()


async def _internal_caller(
    channel: grpc.aio.Channel, method: MethodDescriptor, base: Message, callers: dict[str, str]
) -> str:
    """The first service account whose token the internal method accepts (its scope)."""
    for who, token in callers.items():
        if who.startswith("service:"):
            code, _ = await _call(channel, method, base, token)
            if code not in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
                return token
    return callers["admin"]


@pytest.mark.slow
async def test_no_rpc_answers_garbage_with_internal_or_unknown(real_stack: RealStack) -> None:
    identity = real_stack["identity"].grpc
    service_tokens = await _service_tokens(identity, real_stack.secrets)
    names = await _real_names(real_stack, service_tokens)
    failures: list[str] = []
    calls = 0
    methods_seen = 0
    limit = asyncio.Semaphore(CONCURRENCY)
    plausible: dict[str, int] = {}  # what the repaired plausible requests got, by status

    async def check(
        channel: grpc.aio.Channel,
        method: MethodDescriptor,
        label: str,
        request: Message,
        who: str,
        token: str,
    ) -> None:
        nonlocal calls
        async with limit:
            code, _ = await _call(channel, method, request, token)
            calls += 1
        if code in FORBIDDEN:
            failures.append(f"{method.full_name} [{who}] {label}: {code}")

    for service in GRPC_SERVICES:
        address = real_stack[service].grpc
        methods = await asyncio.to_thread(_methods, address)
        assert methods, f"{service} lists no services through reflection"
        async with grpc.aio.insecure_channel(
            address, options=[("grpc.max_send_message_length", 16 * 1024 * 1024)]
        ) as channel:
            for method in methods:
                methods_seen += 1
                # A fresh admin token per method: Logout and password changes may end the last one.
                callers = {"admin": await _admin_token(identity), "anonymous": ""}
                if method.containing_service.name.endswith("InternalService"):
                    callers |= service_tokens
                cls = message_factory.GetMessageClass(method.input_type)
                rng = random.Random(zlib.crc32(method.full_name.encode()))
                # Plausible requests name the seeded resources, except where that would delete or
                # move them from under the rest of the walk.
                destructive = method.name.startswith(DESTRUCTIVE)
                garbage = Garbage(rng, names, plausible_names=not destructive)
                base = garbage.plausible(cls)
                if not destructive:
                    repairer = callers["admin"]
                    if method.containing_service.name.endswith("InternalService"):
                        repairer = await _internal_caller(channel, method, base, callers)
                    base, spent, answer = await _repaired(channel, method, base, repairer, garbage, failures)
                    calls += spent
                    plausible[answer] = plausible.get(answer, 0) + 1
                requests = list(garbage.requests(method.input_type, cls, PER_FIELD, base))
                await asyncio.gather(
                    *(
                        check(channel, method, label, request, who, token)
                        for who, token in callers.items()
                        # Unauthenticated: the whole-request fills suffice (no field is read).
                        for label, request in (requests if who != "anonymous" else requests[:3])
                    )
                )
    # How far the walk reaches (pytest -s shows it): OK or a domain answer past validation.
    print(f"{methods_seen} methods, {calls} calls; plausible requests answered: {plausible}")
    assert methods_seen > 100, f"only {methods_seen} methods found through reflection"
    assert not failures, f"{len(failures)} of {calls} calls answered INTERNAL/UNKNOWN:\n" + "\n".join(
        sorted(failures)
    )
