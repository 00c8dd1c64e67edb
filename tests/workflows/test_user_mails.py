"""Invitation and password-reset mails end to end: identity's outbox → Temporal dev server →
worker → SMTP sink, and the link in the mail really works."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage

import grpc
import pytest

from wattlane.api.identity.v1 import tenants_pb2, users_pb2
from wattlane.contracts import user_mail as usermail
from wattlane.core.clients.identity import IdentityClient
from wattlane.identity.testing import USER_PASSWORD, TreeBuilder

from .conftest import Stack, record_history

_TOKEN = re.compile(r"\?token=([A-Za-z0-9_-]+)")


def _token(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    found = _TOKEN.search(body.get_content())
    assert found, "the mail carries a link with a token"
    return found.group(1)


async def _branded_org(tree: TreeBuilder, locale: str) -> tenants_pb2.Tenant:
    root = await tree.root()
    brand = tenants_pb2.Brand(name="Voltera", mail_domain="mail.voltera.example", primary_color="#0b6e4f")
    partner = await tree.tenant(root.name, "PARTNER", brand=brand, locale=locale)
    customer = await tree.tenant(partner.name, "CUSTOMER")
    return await tree.tenant(customer.name, "ORGANIZATION", name="Amsterdam depot")


async def test_an_invitation_mail_activates_the_user(stack: Stack) -> None:
    tree = TreeBuilder(stack.admin)
    org = await _branded_org(tree, "nl")
    email = "invitee-mail@example.test"
    user = await stack.admin.users.CreateUser(
        users_pb2.CreateUserRequest(
            parent=org.name, user=users_pb2.User(email=email, display_name="Ineke", locale="nl")
        )
    )
    await stack.admin.users.SendInvitation(users_pb2.SendInvitationRequest(user=user.name))
    (mail,) = await stack.wait_mails(email, 1)
    assert mail["Subject"] == "U bent uitgenodigd voor Amsterdam depot op Voltera"
    assert "noreply@mail.voltera.example" in mail["From"]
    assert "/accept-invitation?token=" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    accepted = await stack.admin.users.AcceptInvitation(
        users_pb2.AcceptInvitationRequest(token=_token(mail), password=USER_PASSWORD)
    )
    assert accepted.state == users_pb2.User.ACTIVE
    signed_in = await IdentityClient(stack.target).login(email, USER_PASSWORD)
    await signed_in.close()
    async for execution in stack.temporal.list_workflows(f"WorkflowType = '{usermail.WORKFLOW}'"):
        await record_history(stack.temporal, execution.id, "user_mail_invitation")
        break
    # Accepted: no more invitations for this user.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.admin.users.SendInvitation(users_pb2.SendInvitationRequest(user=user.name))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await tree.close()


async def test_forgot_password_mails_a_working_reset_link_once_a_minute(stack: Stack) -> None:
    tree = TreeBuilder(stack.admin)
    org = await _branded_org(tree, "en")
    member = await tree.member(org.name)
    anonymous = IdentityClient(stack.target)
    try:
        await anonymous.users.RequestPasswordReset(
            users_pb2.RequestPasswordResetRequest(email=member.user.email)
        )
        # Asking again at once is answered the same, but sends nothing more.
        await anonymous.users.RequestPasswordReset(
            users_pb2.RequestPasswordResetRequest(email=member.user.email.upper())
        )
        # An unknown e-mail gets the same answer and no mail.
        await anonymous.users.RequestPasswordReset(
            users_pb2.RequestPasswordResetRequest(email="nobody-reset@example.test")
        )
        (mail,) = await stack.wait_mails(member.user.email, 1)
        assert mail["Subject"] == "Reset your Voltera password"
        await asyncio.sleep(1.0)
        assert len(stack.mails_to(member.user.email)) == 1
        assert stack.mails_to("nobody-reset@example.test") == []
        await anonymous.users.ResetPassword(
            users_pb2.ResetPasswordRequest(token=_token(mail), new_password="a-brand-new-password")
        )
        signed_in = await IdentityClient(stack.target).login(member.user.email, "a-brand-new-password")
        await signed_in.close()
        # The link works once.
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await anonymous.users.ResetPassword(
                users_pb2.ResetPasswordRequest(token=_token(mail), new_password="another-new-password")
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await anonymous.users.RequestPasswordReset(users_pb2.RequestPasswordResetRequest(email=""))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await anonymous.close()
        await tree.close()


async def test_only_user_managers_send_invitations(stack: Stack) -> None:
    tree = TreeBuilder(stack.admin)
    org = await _branded_org(tree, "en")
    sibling = await _branded_org(tree, "en")
    admin = await tree.member(org.name, [("organization-admin", org.name)])
    invited = await stack.admin.users.CreateUser(
        users_pb2.CreateUserRequest(
            parent=sibling.name, user=users_pb2.User(email="sibling-invitee@example.test", display_name="S")
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.client.users.SendInvitation(users_pb2.SendInvitationRequest(user=invited.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # a sibling's user does not exist for them
    await asyncio.sleep(0.5)
    assert stack.mails_to("sibling-invitee@example.test") == []
    await tree.close()
