"""What billing's domain modules and servicers share, wired once in main."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.billing.settings import BillingSettings
from wattlane.billing.transactions import TransactionSource
from wattlane.core.audit import AuditLog
from wattlane.core.clients.directory import Directory
from wattlane.core.db import Database
from wattlane.core.idempotency import Idempotency


@dataclass
class Runtime:
    settings: BillingSettings
    db: Database
    audit: AuditLog
    idempotency: Idempotency
    directory: Directory
    transactions: TransactionSource
