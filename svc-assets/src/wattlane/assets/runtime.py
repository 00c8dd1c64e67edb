"""What assets' domain modules and servicers share, wired once in main."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.assets.access import AccessDecider
from wattlane.assets.onboarding import CsmsLink
from wattlane.assets.settings import AssetsSettings
from wattlane.assets.tariffs import TariffLink
from wattlane.assets.upstream import Quota
from wattlane.core.audit import AuditLog
from wattlane.core.clients.directory import Directory
from wattlane.core.db import Database
from wattlane.core.idempotency import Idempotency


@dataclass
class Runtime:
    settings: AssetsSettings
    db: Database
    audit: AuditLog
    idempotency: Idempotency
    directory: Directory
    quota: Quota
    decider: AccessDecider
    csms: CsmsLink | None = None  # None: connected onboarding is unavailable
    tariffs: TariffLink | None = None  # None: no billing, so no rate plan can be set
