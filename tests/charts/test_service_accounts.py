"""The chart's service-accounts Secret works at a real identity: identity upserts the accounts from
the rendered `service-accounts.json`, and each service, logging in with the secret under its own
key, gets a token carrying exactly its scopes from the contracts' catalog."""

from __future__ import annotations

import base64
from pathlib import Path

import jwt

from tests.charts.tools import documents, render
from wattlane.contracts.scopes import SERVICE_ACCOUNTS
from wattlane.core.identity_link import IdentityLink
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.testing import start_identity


async def test_the_rendered_service_accounts_log_in_with_their_scopes(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    (secret,) = [
        d
        for d in documents(render("minimal"))
        if d["kind"] == "Secret" and d["metadata"]["name"] == "wattlane-service-accounts"
    ]
    data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    # Mounted at WATTLANE_IDENTITY_SERVICE_ACCOUNTS_FILE in the pod; a file here.
    accounts_file = tmp_path / "service-accounts.json"
    accounts_file.write_text(data["service-accounts.json"])
    identity = await start_identity(
        await databases.create("chart_accounts"), service_accounts_file=str(accounts_file)
    )
    try:
        for account, scopes in SERVICE_ACCOUNTS.items():
            link = IdentityLink(f"127.0.0.1:{identity.port}", client_id=account, client_secret=data[account])
            try:
                token = await link.service_token()
            finally:
                await link.close()
            claims = jwt.decode(token, options={"verify_signature": False})
            assert claims["svc"] == account and sorted(claims["scp"]) == sorted(scopes), claims
    finally:
        await identity.stop()
