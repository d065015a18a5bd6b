"""Helpers of the scheduler tests: interleaving schedulers over one store, and finishing records."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from anyio.lowlevel import checkpoint

from litestar_queues import Outcome, RecordQuery
from litestar_queues.models import QueryPosition

if TYPE_CHECKING:
    import random
    from datetime import datetime

    from litestar_queues import QueueBackend, TaskRecord
    from litestar_queues.models import ScheduleState


class Interleaving:
    """A view of a shared queue backend whose schedule calls yield to other tasks a random number of times.

    Several schedulers over views of one store, run concurrently, then interleave between
    reading the states and moving them on: the stale reads that racing processes make.
    """

    def __init__(self, store: QueueBackend, rng: random.Random) -> None:
        self.store = store
        self.rng = rng

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def _yield(self) -> None:
        for _ in range(self.rng.randint(0, 3)):
            await checkpoint()

    async def schedule_states(self) -> list[ScheduleState]:
        await self._yield()
        states = list(await self.store.schedule_states())
        await self._yield()
        return states

    async def advance_schedule(self, name: str, **kwargs: Any) -> ScheduleState | None:
        await self._yield()
        state = await self.store.advance_schedule(name, **kwargs)
        await self._yield()
        return state


async def finish_all(backend: QueueBackend, now: datetime) -> None:
    """Run every waiting record to completion (whatever its start time): its dedup key is free again.

    A second record for a due time would then be stored, not deduplicated, so counting records
    counts fires.
    """
    later = now + timedelta(days=3650)
    while claimed := await backend.claim(
        queues=None, worker_id="test", limit=500, now=later, lease_until=later + timedelta(hours=1)
    ):
        outcomes = [Outcome(task_id=r.id, lease_id=r.lease_id or "", kind="complete") for r in claimed]
        await backend.finish(outcomes, now=later)


async def all_records(backend: QueueBackend) -> list[TaskRecord]:
    """Every stored record, oldest first."""
    records: list[TaskRecord] = []
    query = RecordQuery(newest_first=False, limit=1000)
    while page := list(await backend.query(query)):
        records += page
        if len(page) < query.limit:
            break
        query = RecordQuery(newest_first=False, limit=1000, after=QueryPosition.of(page[-1]))
    return records


def keys_of(records: list[TaskRecord], name: str) -> list[str]:
    """The dedup keys of the records schedule ``name`` enqueued, in enqueue order."""
    prefix = f"schedule:{name}:"
    return [r.key for r in records if r.key is not None and r.key.startswith(prefix)]
