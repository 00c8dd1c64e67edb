"""The CSMS's database-backed providers: the station registry, the message log and the
transactions around a credential provider and an access decider (static/in-memory or assets)."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.core.db import Database
from wattlane.core.migrations import upgrade_async
from wattlane.csms.providers.interfaces import AccessDecider, Providers, StationCredentials
from wattlane.csms.registry.logstore import DatabaseMessageSink
from wattlane.csms.registry.messagelog import BatchingMessageLog
from wattlane.csms.registry.stations import RegisteredCredentials, StationRegistry
from wattlane.csms.schema import MIGRATIONS
from wattlane.csms.transactions.store import StoredTransactions


@dataclass
class Storage:
    """The registry and log of one CSMS process, and the `Providers` bundle built on them."""

    db: Database
    registry: StationRegistry
    message_log: BatchingMessageLog
    transactions: StoredTransactions
    providers: Providers

    @classmethod
    def build(
        cls,
        db: Database,
        credentials: StationCredentials,
        access: AccessDecider,
        *,
        process: str,
        log_flush_interval: float = 0.5,
        registry_flush_interval: float = 0.5,
    ) -> Storage:
        """Wire the registry (events + unclaimed attempts) and the log onto `db`."""
        registry = StationRegistry(db, credentials, process=process, flush_interval=registry_flush_interval)
        # Big batches: one insert per batch is what keeps the log off the hot path's CPU.
        log = BatchingMessageLog(
            DatabaseMessageSink(db), batch_size=2000, flush_interval=log_flush_interval, max_pending=200_000
        )
        transactions = StoredTransactions(db, credentials)
        providers = Providers(
            credentials=RegisteredCredentials(credentials, registry),
            access=access,
            events=registry,
            message_log=log,
            transactions=transactions,
        )
        return cls(db, registry, log, transactions, providers)

    async def start(self, *, migrate: bool = True) -> None:
        """Migrate (when asked), then start the writers."""
        if migrate:
            await upgrade_async(self.db.url.render_as_string(hide_password=False), MIGRATIONS)
        await self.registry.start()
        self.message_log.start()
        self.transactions.start()

    async def close(self) -> None:
        """Flush and stop the writers (call after the listeners have closed their sockets)."""
        await self.transactions.close()
        await self.message_log.close()
        await self.registry.close()
