"""TenantService: tree rules, validation, updates with masks and etags, deletion, listing,
scope answers and idempotent retries."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from wattlane.api.identity.v1 import tenants_pb2, users_pb2
from wattlane.core.errors import error_info, field_violations
from wattlane.identity.testing import Client, TreeBuilder, unique

T = tenants_pb2.Tenant


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


async def test_paths_are_built_from_ids_and_inherit_zone_and_locale(tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER", time_zone="Europe/Brussels", locale="nl")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    assert partner.path == f"{root.path}{partner.name.removeprefix('tenants/')}/"
    assert customer.path.startswith(partner.path)
    assert (customer.time_zone, customer.locale) == ("Europe/Brussels", "nl")
    assert customer.parent == partner.name
    assert customer.customer_type == T.COMPANY


@pytest.mark.parametrize(
    ("parent_kind", "kind", "reason"),
    [
        ("OPERATOR", "CUSTOMER", "INVALID_TREE_POSITION"),
        ("OPERATOR", "ORGANIZATION", "INVALID_TREE_POSITION"),
        ("PARTNER", "PARTNER", "INVALID_TREE_POSITION"),
        ("CUSTOMER", "CUSTOMER", "INVALID_TREE_POSITION"),
    ],
)
async def test_kinds_only_go_where_the_tree_allows(
    admin: Client, tree: TreeBuilder, parent_kind: str, kind: str, reason: str
) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    parent = {"OPERATOR": root, "PARTNER": partner, "CUSTOMER": customer}[parent_kind]
    new = T(kind=T.Kind.Value(kind), display_name=unique("x"))
    if kind == "CUSTOMER":
        new.customer_type = T.COMPANY
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.CreateTenant(tenants_pb2.CreateTenantRequest(parent=parent.name, tenant=new))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(raised.value)
    assert info is not None and info.reason == reason and info.domain == "wattlane.org"


@pytest.mark.parametrize(
    ("tenant", "field"),
    [
        (T(kind=T.PARTNER, display_name=""), "tenant.display_name"),
        (T(kind=T.PARTNER, display_name="x" * 201), "tenant.display_name"),
        (T(kind=T.KIND_UNSPECIFIED, display_name="x"), "tenant.kind"),
        (T(kind=T.OPERATOR, display_name="x"), "tenant.kind"),
        (T(kind=999, display_name="x"), "tenant.kind"),  # type: ignore[arg-type]
        (T(kind=T.PARTNER, display_name="x", customer_type=999), "tenant.customer_type"),  # type: ignore[arg-type]
        (T(kind=T.PARTNER, display_name="x", time_zone="Mars/Olympus"), "tenant.time_zone"),
        (T(kind=T.PARTNER, display_name="x", locale="english"), "tenant.locale"),
        (T(kind=T.PARTNER, display_name="x", customer_type=T.COMPANY), "tenant.customer_type"),
        (
            T(kind=T.PARTNER, display_name="x", brand=tenants_pb2.Brand(primary_color="red")),
            "tenant.brand.primary_color",
        ),
        (
            T(kind=T.PARTNER, display_name="x", brand=tenants_pb2.Brand(logo_url="http://x")),
            "tenant.brand.logo_url",
        ),
        (
            T(kind=T.PARTNER, display_name="x", brand=tenants_pb2.Brand(mail_domain="not a domain")),
            "tenant.brand.mail_domain",
        ),
    ],
)
async def test_invalid_fields_are_named(admin: Client, tree: TreeBuilder, tenant: T, field: str) -> None:
    root = await tree.root()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.CreateTenant(tenants_pb2.CreateTenantRequest(parent=root.name, tenant=tenant))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(raised.value)] == [field]
    assert field in (raised.value.details() or "")


async def test_customers_need_a_type_and_only_partners_have_a_brand(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.CreateTenant(
            tenants_pb2.CreateTenantRequest(parent=partner.name, tenant=T(kind=T.CUSTOMER, display_name="c"))
        )
    assert field_violations(raised.value)[0].field == "tenant.customer_type"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.CreateTenant(
            tenants_pb2.CreateTenantRequest(
                parent=partner.name,
                tenant=T(
                    kind=T.CUSTOMER,
                    display_name="c",
                    customer_type=T.PRIVATE_USER,
                    brand=tenants_pb2.Brand(name="nope"),
                ),
            )
        )
    assert field_violations(raised.value)[0].field == "tenant.brand"


async def test_partner_brand_round_trips(tree: TreeBuilder) -> None:
    root = await tree.root()
    brand = tenants_pb2.Brand(
        name="Laadpaal BV",
        logo_url="https://cdn.example/logo.png",
        primary_color="#112233",
        secondary_color="#AABBCC",
        mail_domain="Mail.Laadpaal.example",
    )
    partner = await tree.tenant(root.name, "PARTNER", brand=brand)
    assert partner.brand.secondary_color == "#aabbcc"
    assert partner.brand.mail_domain == "mail.laadpaal.example"


async def test_sibling_names_are_unique_but_reusable_after_delete(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    first = await tree.tenant(partner.name, "CUSTOMER", name="Acme")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await tree.tenant(partner.name, "CUSTOMER", name="Acme")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await admin.tenants.DeleteTenant(tenants_pb2.DeleteTenantRequest(name=first.name))
    again = await tree.tenant(partner.name, "CUSTOMER", name="Acme")
    assert again.name != first.name


async def test_delete_refuses_nodes_with_children_or_users(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.DeleteTenant(tenants_pb2.DeleteTenantRequest(name=partner.name))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "TENANT_HAS_CHILDREN"  # type: ignore[union-attr]
    await tree.member(customer.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.DeleteTenant(tenants_pb2.DeleteTenantRequest(name=customer.name))
    assert error_info(raised.value).reason == "TENANT_HAS_USERS"  # type: ignore[union-attr]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.DeleteTenant(tenants_pb2.DeleteTenantRequest(name=root.name))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Nothing was deleted on the way.
    assert (
        await admin.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=customer.name))
    ).name == customer.name


async def test_deleted_tenant_reads_as_not_found(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    await admin.tenants.DeleteTenant(tenants_pb2.DeleteTenantRequest(name=partner.name))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=partner.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_moves_are_refused_until_the_move_workflow_exists(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    p1 = await tree.tenant(root.name, "PARTNER")
    p2 = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(p1.name, "CUSTOMER")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.MoveTenant(tenants_pb2.MoveTenantRequest(name=customer.name, new_parent=p2.name))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "MOVE_NOT_SUPPORTED"  # type: ignore[union-attr]
    got = await admin.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=customer.name))
    assert got.parent == p1.name


async def test_update_with_mask_and_etag(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER", locale="en")
    updated = await admin.tenants.UpdateTenant(
        tenants_pb2.UpdateTenantRequest(
            tenant=T(name=partner.name, display_name=unique("renamed"), locale="nl", etag=partner.etag),
            update_mask=mask("display_name"),
        )
    )
    assert updated.display_name != partner.display_name and updated.locale == "en"  # locale not in the mask
    assert updated.etag != partner.etag
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # stale etag: lost-update protection
        await admin.tenants.UpdateTenant(
            tenants_pb2.UpdateTenantRequest(
                tenant=T(name=partner.name, locale="nl", etag=partner.etag), update_mask=mask("locale")
            )
        )
    assert raised.value.code() == grpc.StatusCode.ABORTED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.UpdateTenant(
            tenants_pb2.UpdateTenantRequest(tenant=T(name=partner.name), update_mask=mask("kind"))
        )
    assert field_violations(raised.value)[0].field == "update_mask"
    branded = await admin.tenants.UpdateTenant(
        tenants_pb2.UpdateTenantRequest(
            tenant=T(name=partner.name, brand=tenants_pb2.Brand(name="New brand")), update_mask=mask("brand")
        )
    )
    assert branded.brand.name == "New brand"


async def test_list_children_subtree_filter_and_pages(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customers = [await tree.tenant(partner.name, "CUSTOMER", customer_type="PRIVATE_USER") for _ in range(5)]
    org = await tree.tenant(customers[0].name, "ORGANIZATION")
    children = await admin.tenants.ListTenants(tenants_pb2.ListTenantsRequest(parent=partner.name))
    assert [t.name for t in children.tenants] == [c.name for c in customers]
    subtree = await admin.tenants.ListTenants(
        tenants_pb2.ListTenantsRequest(parent=partner.name, recursive=True)
    )
    assert {t.name for t in subtree.tenants} == {c.name for c in customers} | {org.name}
    only_orgs = await admin.tenants.ListTenants(
        tenants_pb2.ListTenantsRequest(parent=partner.name, recursive=True, filter="kind = ORGANIZATION")
    )
    assert [t.name for t in only_orgs.tenants] == [org.name]
    seen: list[str] = []
    token = ""
    while True:
        page = await admin.tenants.ListTenants(
            tenants_pb2.ListTenantsRequest(parent=partner.name, page_size=2, page_token=token)
        )
        seen.extend(t.name for t in page.tenants)
        token = page.next_page_token
        if not token:
            break
    assert seen == [c.name for c in customers]
    for bad in (
        tenants_pb2.ListTenantsRequest(parent=partner.name, page_size=-1),
        tenants_pb2.ListTenantsRequest(parent=partner.name, page_token="garbage!"),
        tenants_pb2.ListTenantsRequest(parent=partner.name, filter="colour = red"),
        tenants_pb2.ListTenantsRequest(parent=partner.name, filter="kind = SPACESHIP"),
        tenants_pb2.ListTenantsRequest(parent="partners/x"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await admin.tenants.ListTenants(bad)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A page token only works for the query it came from.
    first = await admin.tenants.ListTenants(tenants_pb2.ListTenantsRequest(parent=partner.name, page_size=2))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.ListTenants(
            tenants_pb2.ListTenantsRequest(
                parent=partner.name, page_size=2, page_token=first.next_page_token, filter="kind = CUSTOMER"
            )
        )
    assert field_violations(raised.value)[0].field == "page_token"


async def test_sibling_partner_sees_nothing(tree: TreeBuilder) -> None:
    root = await tree.root()
    p1, p2 = await tree.tenant(root.name, "PARTNER"), await tree.tenant(root.name, "PARTNER")
    c2 = await tree.tenant(p2.name, "CUSTOMER")
    admin1 = await tree.member(p1.name, [("partner-admin", p1.name)])
    for call in (
        admin1.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=p2.name)),
        admin1.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=c2.name)),
        admin1.client.tenants.ListTenants(tenants_pb2.ListTenantsRequest(parent=p2.name)),
        admin1.client.users.ListUsers(users_pb2.ListUsersRequest(parent=c2.name)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    everything = await admin1.client.tenants.ListTenants(tenants_pb2.ListTenantsRequest(page_size=1000))
    assert {t.name for t in everything.tenants} == {p1.name}
    # A partner admin manages its own subtree.
    c1 = await admin1.client.tenants.CreateTenant(
        tenants_pb2.CreateTenantRequest(
            parent=p1.name, tenant=T(kind=T.CUSTOMER, display_name="mine", customer_type=T.COMPANY)
        )
    )
    assert c1.path.startswith(p1.path)


async def test_visible_without_permission_is_permission_denied(tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    cardholder = await tree.member(customer.name, [("cardholder", customer.name)])
    got = await cardholder.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=customer.name))
    assert got.name == customer.name
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cardholder.client.tenants.UpdateTenant(
            tenants_pb2.UpdateTenantRequest(
                tenant=T(name=customer.name, display_name="x"), update_mask=mask("display_name")
            )
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "tenants.manage" in (raised.value.details() or "")


async def test_retried_create_returns_the_first_result(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    request = tenants_pb2.CreateTenantRequest(
        parent=root.name, tenant=T(kind=T.PARTNER, display_name=unique("p")), request_id=unique("req")
    )
    first = await admin.tenants.CreateTenant(request)
    second = await admin.tenants.CreateTenant(request)
    assert first == second
    listed = await admin.tenants.ListTenants(
        tenants_pb2.ListTenantsRequest(
            parent=root.name, filter=f'display_name = "{request.tenant.display_name}"'
        )
    )
    assert len(listed.tenants) == 1
    request.tenant.display_name = unique("other")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.tenants.CreateTenant(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value)[0].field == "request_id"


async def test_failed_create_leaves_nothing_and_can_be_retried(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    name = unique("p")
    bad = tenants_pb2.CreateTenantRequest(
        parent=root.name,
        tenant=T(kind=T.PARTNER, display_name=name, locale="xx_YY"),
        request_id=unique("req"),
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await admin.tenants.CreateTenant(bad)
    listed = await admin.tenants.ListTenants(
        tenants_pb2.ListTenantsRequest(parent=root.name, filter=f'display_name = "{name}"')
    )
    assert list(listed.tenants) == []


async def test_unauthenticated_calls_are_refused(identity_target: str) -> None:
    anonymous = Client(identity_target)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await anonymous.tenants.ListTenants(tenants_pb2.ListTenantsRequest())
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        anonymous.token = "not-a-jwt"
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await anonymous.tenants.ListTenants(tenants_pb2.ListTenantsRequest())
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await anonymous.close()
