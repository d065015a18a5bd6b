"""Deliberately broken queue backends: each breaks one rule of the port, and the kit must notice.

Every class subclasses the memory backend and changes as little as possible, so the only thing
wrong with it is the bug its name describes.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import msgspec

from litestar_queues import MemoryQueueBackend
from litestar_queues.limits import Bucket, LimitGate
from litestar_queues.models import EnqueueResult, ScheduleState

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import Outcome, RecordQuery, TaskRecord, WorkerInfo


class HandsTaskToTwoWorkers(MemoryQueueBackend):
    """A claim with room left also hands out records that are already running."""

    async def claim(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[TaskRecord]:
        claimed = await super().claim(
            queues=queues, worker_id=worker_id, limit=limit, now=now, lease_until=lease_until
        )
        taken = {r.id for r in claimed}
        for record in list(self._records.values()):
            if len(claimed) >= limit:
                break
            in_queues = queues is None or record.queue in queues
            other_worker = record.worker_id != worker_id
            if record.status == "running" and record.id not in taken and in_queues and other_worker:
                claimed.append(self._take(record, worker_id, now, lease_until))
        return claimed


class IgnoresPriority(MemoryQueueBackend):
    """Claims in enqueue order only: the priority is left out of the ready heap."""

    def _queue_ready(self, record: TaskRecord) -> None:
        heapq.heappush(self._ready.setdefault(record.queue, []), (0, self._seq[record.id], record.id))


class IgnoresDedupKeys(MemoryQueueBackend):
    """Forgets which keys are held before every enqueue call."""

    async def enqueue(self, records: Sequence[TaskRecord]) -> list[EnqueueResult]:
        self._active_keys.clear()
        return await super().enqueue(records)


class LosesTaskOnRetry(MemoryQueueBackend):
    """A retried record is marked pending/scheduled but never queued again: no claim finds it."""

    async def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[TaskRecord | None]:
        results = await super().finish(outcomes, now=now)
        retried = {
            r.id for o, r in zip(outcomes, results, strict=True) if r is not None and o.kind == "retry"
        }
        if retried:
            for name, heap in self._ready.items():
                self._ready[name] = [entry for entry in heap if entry[2] not in retried]
                heapq.heapify(self._ready[name])
            self._delayed = [entry for entry in self._delayed if entry[2] not in retried]
            heapq.heapify(self._delayed)
        return results


class ClaimsDelayedEarly(MemoryQueueBackend):
    """Treats every scheduled record as due, whatever its run_at."""

    def _promote_due(self, now: datetime) -> None:
        while self._delayed:
            _, _, task_id = heapq.heappop(self._delayed)
            record = self._records.get(task_id)
            if record is not None and record.status == "scheduled":
                self._queue_ready(record)

    def _is_ready(self, task_id: UUID, now: datetime) -> bool:
        record = self._records.get(task_id)
        return record is not None and record.status in ("pending", "scheduled")


class AppliesLateCompletion(MemoryQueueBackend):
    """Accepts an outcome for any active record, whatever lease it was reported under."""

    def _holds(self, task_id: UUID, lease_id: str) -> TaskRecord | None:
        record = self._records.get(task_id)
        if record is None or record.is_terminal:
            return None
        if record.status != "running":
            # pretend it is still running under the stale lease, as a sloppy backend would
            record = msgspec.structs.replace(record, status="running", lease_id=lease_id)
        return record


class CountsReleasedAttempts(MemoryQueueBackend):
    """A released or reclaimed attempt stays counted: attempts grow past max_retries + 1."""

    async def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[TaskRecord | None]:
        results = await super().finish(outcomes, now=now)
        for outcome, record in zip(outcomes, results, strict=True):
            if record is not None and outcome.kind == "release":
                fixed = msgspec.structs.replace(record, attempts=record.attempts + 1)
                self._records[record.id] = fixed
        return results


class ChangesTerminalRecords(MemoryQueueBackend):
    """cancel overwrites completed and failed records too."""

    async def cancel(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        record = self._records.get(task_id)
        if record is not None and record.status in ("completed", "failed"):
            updated = msgspec.structs.replace(record, status="cancelled", finished_at=now)
            self._records[task_id] = updated
            return updated
        return await super().cancel(task_id, now=now)


class QueryRepeatsTheBoundary(MemoryQueueBackend):
    """query continues from its position inclusively: the last record of a page comes again."""

    async def query(self, query: RecordQuery) -> list[TaskRecord]:
        if query.after is None:
            return await super().query(query)
        mark = (query.after.created_at, query.after.id.bytes)

        def at_or_beyond(r: TaskRecord) -> bool:
            place = (r.created_at, r.id.bytes)
            return place <= mark if query.newest_first else place >= mark

        found = [r for r in self._records.values() if query.matches(r) and at_or_beyond(r)]
        found.sort(key=lambda r: (r.created_at, r.id.bytes), reverse=query.newest_first)
        return found[: query.limit]


class QueryIgnoresStatuses(MemoryQueueBackend):
    """query forgets the status filter."""

    async def query(self, query: RecordQuery) -> list[TaskRecord]:
        return await super().query(msgspec.structs.replace(query, statuses=None))


class RequeuesCompletedRecords(MemoryQueueBackend):
    """requeue also puts completed records back in the queue."""

    async def requeue(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        record = self._records.get(task_id)
        if record is not None and record.status == "completed":
            self._records[task_id] = msgspec.structs.replace(record, status="failed")
        return await super().requeue(task_id, now=now)


class DeletesRunningRecords(MemoryQueueBackend):
    """delete also removes running records (their workers lose them)."""

    async def delete(self, query: RecordQuery) -> list[UUID]:
        deleted: list[UUID] = []
        for record in await self.query(query):
            del self._records[record.id]
            if record.key is not None and self._active_keys.get(record.key) == record.id:
                del self._active_keys[record.key]
            deleted.append(record.id)
        return deleted


class DeleteIgnoresFinishTime(MemoryQueueBackend):
    """delete forgets the finished_before bound: a retention sweep removes recent records too."""

    async def delete(self, query: RecordQuery) -> list[UUID]:
        return await super().delete(msgspec.structs.replace(query, finished_before=None))


class DeleteKeepsTheKey(MemoryQueueBackend):
    """delete leaves the dedup key of a deleted waiting record taken by the deleted record."""

    async def delete(self, query: RecordQuery) -> list[UUID]:
        before = dict(self._records)
        deleted = await super().delete(query)
        self._ghosts = {task_id: before[task_id] for task_id in deleted if before[task_id].key is not None}
        return deleted

    async def enqueue(self, records: Sequence[TaskRecord]) -> list[EnqueueResult]:
        results: list[EnqueueResult] = []
        ghosts = {r.key: r for r in getattr(self, "_ghosts", {}).values()}
        for record in records:
            ghost = ghosts.get(record.key) if record.key is not None else None
            if ghost is not None:
                results.append(EnqueueResult(record=ghost, created=False))
            else:
                results.extend(await super().enqueue([record]))
        return results


class ClaimsFromPausedQueues(MemoryQueueBackend):
    """claim ignores the paused state (it is stored and reported, but not applied)."""

    async def claim(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[TaskRecord]:
        paused, self._paused = self._paused, set()
        try:
            return await super().claim(
                queues=queues, worker_id=worker_id, limit=limit, now=now, lease_until=lease_until
            )
        finally:
            self._paused = paused


class GivesLiveTurnsAway(MemoryQueueBackend):
    """take_turn always grants the duty, even during another holder's live turn."""

    async def take_turn(self, duty: str, *, holder: str, now: datetime, until: datetime) -> bool:
        self._turns[duty] = (holder, until)
        return True


class AdvancesWithoutComparing(MemoryQueueBackend):
    """advance_schedule ignores ``expected``: a scheduler that read a stale state fires again."""

    async def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        current = self._schedules.get(name) or ScheduleState(name=name, next_fire=next_fire, updated_at=now)
        state = msgspec.structs.replace(current, next_fire=next_fire, updated_at=now)
        if record is not None:
            stored = self._store(record).record
            state = msgspec.structs.replace(state, last_fire=expected, last_task_id=stored.id)
        self._schedules[name] = state
        return state


class StoresRecordWhenRefused(MemoryQueueBackend):
    """A refused advance_schedule changes no state, but still enqueues the fire's record."""

    async def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        state = await super().advance_schedule(
            name, expected=expected, next_fire=next_fire, record=record, now=now
        )
        if state is None and record is not None:
            self._store(record)
        return state


class ForgetsPausedOnAdvance(MemoryQueueBackend):
    """advance_schedule writes a fresh state: a paused schedule is resumed by its next advance."""

    async def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        state = await super().advance_schedule(
            name, expected=expected, next_fire=next_fire, record=record, now=now
        )
        if state is not None and state.paused:
            state = self._schedules[name] = msgspec.structs.replace(state, paused=False)
        return state


class AdvancesInTwoSteps(MemoryQueueBackend):
    """advance_schedule compares, awaits (a round trip), then writes: racing schedulers all win."""

    async def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        current = self._schedules.get(name)
        if (None if current is None else current.next_fire) != expected:
            return None
        await anyio.lowlevel.checkpoint()  # another scheduler reads the same state meanwhile
        state = current or ScheduleState(name=name, next_fire=next_fire, updated_at=now)
        state = msgspec.structs.replace(state, next_fire=next_fire, updated_at=now)
        if record is not None:
            stored = self._store(record).record
            state = msgspec.structs.replace(state, last_fire=expected, last_task_id=stored.id)
        self._schedules[name] = state
        return state


class ReportsCancelsToEveryone(MemoryQueueBackend):
    """wait_for_cancel reports every running record's cancel to whichever worker asks."""

    async def cancel(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        before = self._records.get(task_id)
        result = await super().cancel(task_id, now=now)
        if before is not None and before.status == "running":
            for worker in ("w1", "w2", "w3", "a", "b", "c"):
                self._cancel_signals.fire(worker, (task_id,))
        return result


class ForgetsCancels(MemoryQueueBackend):
    """wait_for_cancel never reports anything: it only waits out its timeout."""

    async def wait_for_cancel(self, worker_id: str, timeout: float) -> set[UUID]:
        await anyio.sleep(timeout)
        return set()


class ListsExpiredWorkers(MemoryQueueBackend):
    """live_workers lists every stored presence, expired or not (nothing drops them either)."""

    async def record_worker(self, info: WorkerInfo) -> None:
        self._workers[info.worker_id] = info

    async def live_workers(self, *, now: datetime) -> list[WorkerInfo]:
        return sorted(self._workers.values(), key=lambda info: (info.started_at, info.worker_id))


class DropsWorkersBeforeTheyExpire(MemoryQueueBackend):
    """record_worker drops the presences that expire within 10 s of the beat, live ones too."""

    async def record_worker(self, info: WorkerInfo) -> None:
        soon = info.seen_at + timedelta(seconds=10)
        for worker_id in [w for w, known in self._workers.items() if known.expires_at <= soon]:
            del self._workers[worker_id]
        self._workers[info.worker_id] = info


class KeepsTheFirstPresence(MemoryQueueBackend):
    """record_worker inserts a worker's first presence only: later beats are lost (an INSERT, no upsert)."""

    async def record_worker(self, info: WorkerInfo) -> None:
        if info.worker_id not in self._workers:
            await super().record_worker(info)


class ForgetsNoWorker(MemoryQueueBackend):
    """forget_worker does nothing: a worker that stopped cleanly is listed until it expires."""

    async def forget_worker(self, worker_id: str) -> None:
        return None


class CountsFinishedBeforeSince(MemoryQueueBackend):
    """finished_counts ignores ``since``: it counts every finished record there is."""

    async def finished_counts(self, *, since: datetime) -> dict[str, dict[str, int]]:
        return await super().finished_counts(since=datetime.min.replace(tzinfo=since.tzinfo))


class KeepsStaleFinishEntries(MemoryQueueBackend):
    """finished_counts reads a log of finishes that requeue and delete never update."""

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url)
        self._finish_log: dict[UUID, tuple[str, str, datetime]] = {}

    def _end(self, record: TaskRecord, **changes: object) -> TaskRecord:
        updated = super()._end(record, **changes)
        if updated.finished_at is not None:
            self._finish_log[updated.id] = (updated.queue, updated.status, updated.finished_at)
        return updated

    async def finished_counts(self, *, since: datetime) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for queue, status, finished_at in self._finish_log.values():
            if finished_at >= since:
                per_queue = counts.setdefault(queue, {})
                per_queue[status] = per_queue.get(status, 0) + 1
        return counts


class IgnoresTheCap(MemoryQueueBackend):
    """claim and claim_task ignore the limits (they are stored and listed, but not applied)."""

    def _gate(self, limits: dict[str, QueueLimit], now: datetime) -> LimitGate:
        return super()._gate({}, now)

    async def claim(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[TaskRecord]:
        limits, self._limits = self._limits, {}
        try:
            return await super().claim(
                queues=queues, worker_id=worker_id, limit=limit, now=now, lease_until=lease_until
            )
        finally:
            self._limits = limits


class CountsFinishedAsRunning(MemoryQueueBackend):
    """A record that completes, fails or is cancelled keeps its slot: the running count only grows."""

    def _stopped_running(self, record: TaskRecord) -> None:
        current = self._records[record.id]
        if current.status in ("pending", "scheduled"):  # released, retried or reclaimed: counted out
            super()._stopped_running(record)


class HeldBackLosesItsPlace(MemoryQueueBackend):
    """A record a key cap held back goes back to the end of its queue, behind every other record.

    As a backend that pops held-back records and pushes them again at the tail of a list would.
    """

    def _put_back(self, queue: str, entry: tuple[int, int, UUID]) -> None:
        self._seq[entry[2]] = seq = next(self._counter)
        heapq.heappush(self._ready[queue], (2**62, seq, entry[2]))


class NeverRefillsTheBucket(MemoryQueueBackend):
    """The token bucket starts full but never refills: the rate counts its tokens from the far future."""

    def _gate(self, limits: dict[str, QueueLimit], now: datetime) -> LimitGate:
        never = datetime.max.replace(tzinfo=now.tzinfo)
        frozen = {queue: Bucket(bucket.tokens, never) for queue, bucket in self._buckets.items()}
        return LimitGate(limits, now, running=self._running, key_running=self._key_running, buckets=frozen)


class WaitReturnsTheRecordItSaw(MemoryQueueBackend):
    """wait_for_finish returns the record as it was when the wait began: stale once it finished.

    As a backend that keeps the record of its first look instead of the one the notification
    carries (or None, which means "read it").
    """

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        seen = self._records.get(task_id)
        await super().wait_for_finish(task_id, timeout)
        return seen


class WaitReturnsAnotherRecord(MemoryQueueBackend):
    """wait_for_finish returns the last record that finished, whichever task it was."""

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        returned = await super().wait_for_finish(task_id, timeout)
        finished = [r for r in self._records.values() if r.is_terminal and r.finished_at is not None]
        if returned is None or not finished:
            return returned
        return max(finished, key=lambda r: (r.finished_at, self._seq[r.id]))
