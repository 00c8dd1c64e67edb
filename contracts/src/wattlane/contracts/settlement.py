"""The monthly settlement as its starters see it (the worker's schedule, operators): one
`MonthlySettlement` per (issuer, month) on the billing queue, with deterministic ids, fanning out
one `SettleChunk` child per chunk of recipients."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.contracts import task_queues

TASK_QUEUE = task_queues.BILLING
WORKFLOW = "MonthlySettlement"
CHUNK_WORKFLOW = "SettleChunk"


def _tenant_id(issuer: str) -> str:
    return issuer.removeprefix("tenants/")


def workflow_id(issuer: str, month: str) -> str:
    """One settlement per issuer (`tenants/{id}`) and month (YYYY-MM): a second start while it
    runs is rejected by Temporal, one after it ended re-runs it (billing makes nothing twice)."""
    return f"settlement-{_tenant_id(issuer)}-{month}"


def chunk_workflow_id(issuer: str, month: str, chunk: int) -> str:
    """The `chunk`-th (from 0) child of an issuer's month."""
    return f"{workflow_id(issuer, month)}-chunk-{chunk}"


def schedule_id(issuer: str) -> str:
    """The Temporal schedule that starts an issuer's settlement on each 1st."""
    return f"settlement-schedule-{_tenant_id(issuer)}"


@dataclass(frozen=True)
class SettlementResult:
    """What a month's settlement did: invoices it made and found made before, the charge records
    they hold, recipients skipped (their records stay open for the next month) and how many
    chunks ran."""

    month: str
    created: int = 0
    existing: int = 0
    charge_records: int = 0
    skipped: int = 0
    chunks: int = 0


@dataclass(frozen=True)
class SettlementInput:
    """Which issuer and month to settle. `month` empty: the month before the one the workflow
    starts in, in `time_zone` (what the schedule starts on each 1st). `vat_country`: the VAT the
    lines carry (where the issuer's charging happens). `chunk_size` recipients per child (at most
    500) and `chunks_per_run` children before continuing as new: tests make them small.

    Starters leave the rest empty: it is where a run continued as new picks up (the next page of
    recipients, the next chunk's number, the totals so far)."""

    issuer: str  # tenants/{id}
    month: str = ""  # YYYY-MM
    time_zone: str = "UTC"
    vat_country: str = "NL"
    chunk_size: int = 500
    chunks_per_run: int = 20
    page_token: str = ""
    done: SettlementResult | None = None
