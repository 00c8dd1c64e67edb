"""What identity's domain modules and servicers share, wired once in main."""

from __future__ import annotations

from dataclasses import dataclass, field

from wattlane.core.audit import AuditLog
from wattlane.core.db import Database
from wattlane.core.idempotency import Idempotency
from wattlane.core.outbox import WorkflowRelay
from wattlane.core.scope import ScopeCache
from wattlane.core.tokens import TokenVerifier
from wattlane.identity.approvals import Approvals
from wattlane.identity.keys import Keys
from wattlane.identity.passwords import Passwords
from wattlane.identity.settings import IdentitySettings
from wattlane.identity.tenant_paths import TenantPaths


@dataclass
class Runtime:
    settings: IdentitySettings
    db: Database
    audit: AuditLog
    idempotency: Idempotency
    keys: Keys
    passwords: Passwords
    scopes: ScopeCache
    verifier: TokenVerifier
    root_path: str = ""  # the operator's path, known after bootstrap
    approvals: Approvals | None = None
    user_mails: WorkflowRelay | None = None  # the user-mail outbox relay
    tenant_paths: TenantPaths = field(default_factory=TenantPaths)

    def forget_user(self, user_id: str) -> None:
        """Drop cached verifications and scopes of a user (removal, disable, password change)."""
        self.verifier.forget(lambda p: p.subject == user_id)
        self.scopes.invalidate(lambda subject: subject == user_id)

    def forget_all_scopes(self) -> None:
        """Role or binding changes can alter many users' scopes: start from fresh."""
        self.scopes.invalidate()
