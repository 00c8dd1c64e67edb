"""Adding and removing charging points together with identity's allocations.

A point counts one datapoint against the account covering its organization, and one AC or DC
charging license while charging is enabled. The allocations live in identity, the point here,
so no transaction spans both. The order makes every failure recoverable:

- add: the point row is written first as PROVISIONING (invisible; it reserves the identity and
  journals the intent), then the datapoint and license are allocated (idempotent by resource),
  then the row becomes ACTIVE. On a failure the allocations made are released and the row is
  removed; if even that fails (identity down), the reconciler finishes it later.
- remove: the row becomes DELETING (invisible), the allocations are released, the row is marked
  deleted. A process that dies in between leaves the row in DELETING for the reconciler.

So there is never an ACTIVE point without its allocations, and every allocation has a row
(PROVISIONING, ACTIVE or DELETING) that the reconciler turns into a consistent end state."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.assets import charging_points, locations, onboarding, tariffs
from wattlane.assets.charging_points import license_type, point_name
from wattlane.assets.models import ChargingPoint, Connector
from wattlane.assets.runtime import Runtime
from wattlane.core.clock import utcnow
from wattlane.core.errors import Aborted, DomainError
from wattlane.core.scope import EffectiveScope

log = logging.getLogger("wattlane.assets.provisioning")
R = TypeVar("R")

# Test seam: awaited between the steps of an add ("datapoint", "license"), so a test can stop
# identity exactly there. None in production.
StepHook = Callable[[str], Awaitable[None]]


class Once(Protocol[R]):
    """The current request's write, done at most once (the API's idempotency key): a retry gets
    the first try's result. Provisioning hands it the last step and never looks at the result."""

    async def replay(self) -> R | None:
        """The stored result of an earlier try of this request, or None when there was none."""

    async def run(self, write: Callable[[AsyncSession], Awaitable[R]]) -> R:
        """Run `write` in one transaction and store its result, unless an earlier try did."""


class Provisioning:
    def __init__(self, rt: Runtime, step_hook: StepHook | None = None) -> None:
        self.rt = rt
        self.step_hook = step_hook

    async def _step(self, name: str) -> None:
        if self.step_hook is not None:
            await self.step_hook(name)

    async def add(
        self,
        scope: EffectiveScope,
        location_id: str,
        fields: dict[str, Any],
        *,
        once: Once[R],
        respond: Callable[[ChargingPoint], R],
        audit_fields: list[str],
    ) -> R:
        """Create a charging point with its allocations (see the module docstring); the result
        is `respond` of the new point."""
        replayed = await once.replay()
        if replayed is not None:
            return replayed
        async with self.rt.db.reader() as session:
            location = await locations.get_in_scope(session, scope, location_id, "stations.manage")
            row = charging_points.new_point(scope, location, fields)
            await charging_points.check_identity_free(session, row.ocpp_identity)
            await tariffs.check_point(session, self.rt.tariffs, row, fields)
        if row.onboarding == "CONNECTED":
            attempt = await onboarding.confirm_connecting(self.rt.csms, row.ocpp_identity)
            row.first_seen_time = attempt.first_attempt_time
        try:
            async with self.rt.db.transaction() as session:
                session.add(row)
        except IntegrityError:  # a concurrent add took the identity between check and insert
            raise charging_points.identity_taken(row.ocpp_identity) from None
        try:
            await self.rt.quota.allocate_datapoint(row.owner_id, point_name(row.id))
            await self._step("datapoint")
            if row.charging_enabled:
                await self.rt.quota.allocate_license(row.owner_id, license_type(row), point_name(row.id))
                await self._step("license")
        except BaseException:
            await self._undo_add(row)
            raise
        ran = False

        async def activate(session: AsyncSession) -> R:
            nonlocal ran
            ran = True
            now = utcnow()
            done = await session.execute(
                update(ChargingPoint)
                .where(ChargingPoint.id == row.id, ChargingPoint.state == "PROVISIONING")
                .values(state="ACTIVE", update_time=now)
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                raise Aborted("the charging point was rolled back while being added; try again")
            row.state, row.update_time = "ACTIVE", now
            await self.rt.audit.record(
                session, resource=point_name(row.id), tenant_path=row.owner_path, changes=audit_fields
            )
            return respond(row)

        try:
            result = await once.run(activate)
        except BaseException:
            await self._undo_add(row)
            raise
        if not ran:  # a concurrent try with the same request id finished first: ours is surplus
            await self._undo_add(row)
        return result

    async def _undo_add(self, row: ChargingPoint) -> bool:
        """Release what an unfinished add allocated and drop its row. False when identity could
        not be reached: the row stays PROVISIONING for the reconciler."""
        try:
            await self._release(row)
        except DomainError as error:
            log.warning("rolling back %s is left to the reconciler: %s", point_name(row.id), error.message)
            return False
        async with self.rt.db.transaction() as session:
            await session.execute(
                delete(ChargingPoint).where(ChargingPoint.id == row.id, ChargingPoint.state == "PROVISIONING")
            )
        return True

    async def _release(self, row: ChargingPoint) -> None:
        # Both releases are no-ops when nothing is allocated, so they are safe to repeat.
        await self.rt.quota.release_license(license_type(row), point_name(row.id))
        await self.rt.quota.release_datapoint(point_name(row.id))

    async def remove(
        self,
        scope: EffectiveScope,
        point_id: str,
        *,
        etag: str,
        once: Once[R],
        respond: Callable[[ChargingPoint], R],
    ) -> R:
        """Delete a charging point and release its allocations (see the module docstring); the
        result is `respond` of the removed point."""
        replayed = await once.replay()
        if replayed is not None:
            return replayed
        async with self.rt.db.transaction() as session:
            # A removal that stopped half-way (DELETING) may be retried by its caller.
            row = await charging_points.get_in_scope(
                session, scope, point_id, "stations.manage", for_update=True, states=("ACTIVE", "DELETING")
            )
            locations.check_etag(row.version, etag, point_name(point_id))
            row.state = "DELETING"
            row.version += 1
        await self._release(row)

        async def finish(session: AsyncSession) -> R:
            await self._mark_deleted(session, row)
            await self.rt.audit.record(
                session, resource=point_name(row.id), tenant_path=row.owner_path, changes=["delete_time"]
            )
            return respond(row)

        return await once.run(finish)

    async def set_charging(self, row: ChargingPoint, enable: bool) -> None:
        """Allocate (before enabling) or release (after disabling) the charging license."""
        if enable:
            await self.rt.quota.allocate_license(row.owner_id, license_type(row), point_name(row.id))
        else:
            await self.rt.quota.release_license(license_type(row), point_name(row.id))

    @staticmethod
    async def _mark_deleted(session: AsyncSession, row: ChargingPoint) -> None:
        await session.execute(
            update(ChargingPoint)
            .where(ChargingPoint.id == row.id)
            .values(state="DELETED", delete_time=utcnow(), update_time=utcnow())
        )
        await session.execute(delete(Connector).where(Connector.charging_point_id == row.id))

    async def reconcile(self, older_than: float) -> int:
        """Finish removals and roll back adds that stopped half-way (older than `older_than`
        seconds, so adds in progress are left alone). Returns how many rows were settled."""
        cutoff = utcnow() - dt.timedelta(seconds=older_than)
        async with self.rt.db.reader() as session:
            rows = list(
                (
                    await session.execute(
                        select(ChargingPoint).where(
                            ChargingPoint.delete_time.is_(None),
                            or_(
                                ChargingPoint.state == "DELETING",
                                (ChargingPoint.state == "PROVISIONING")
                                & (ChargingPoint.create_time < cutoff),
                            ),
                        )
                    )
                ).scalars()
            )
        settled = 0
        for row in rows:
            if row.state == "PROVISIONING":
                settled += await self._undo_add(row)
                continue
            try:
                await self._release(row)
            except DomainError as error:
                log.warning("finishing the removal of %s failed: %s", point_name(row.id), error.message)
                continue
            async with self.rt.db.transaction() as session:
                await self._mark_deleted(session, row)
            settled += 1
        return settled
