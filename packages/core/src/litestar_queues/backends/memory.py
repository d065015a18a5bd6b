"""The in-process queue backend: the default, and the reference the contract kit is proven on."""

from __future__ import annotations

import heapq
import itertools
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING

import msgspec

from litestar_queues.backends.signals import CancelSignals, FinishSignals, Latch
from litestar_queues.limits import LimitGate
from litestar_queues.models import (
    RETRYABLE_STATUSES,
    TERMINAL_STATUSES,
    WAITING_STATUSES,
    EnqueueResult,
    ScheduleState,
    TaskRecord,
)
from litestar_queues.ports import BackendReach

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from litestar_queues.limits import Bucket, QueueLimit
    from litestar_queues.models import Outcome, RecordQuery, WorkerInfo

__all__ = ("MemoryQueueBackend",)


class MemoryQueueBackend:
    """Keeps task records in this process's memory.

    Fast and dependency-free, for development, tests and single-process apps. Records are lost
    when the process exits: use the SQL backend (``sqlite:///path.db``) for durability on one
    machine, or Redis or PostgreSQL for several. Every operation runs without awaiting, so each
    is atomic on the event loop.

    Args:
        url: Accepted for URL-based configuration (``memory://``); carries no options.
    """

    __slots__ = (
        "_active_keys",
        "_buckets",
        "_cancel_signals",
        "_counter",
        "_delayed",
        "_finished",
        "_key_running",
        "_limits",
        "_paused",
        "_ready",
        "_records",
        "_running",
        "_schedules",
        "_seq",
        "_token_due",
        "_turns",
        "_work_signal",
        "_workers",
    )

    reach = BackendReach.PROCESS
    """Only this process sees the records."""

    def __init__(self, url: str | None = None) -> None:
        self._records: dict[UUID, TaskRecord] = {}
        self._seq: dict[UUID, int] = {}
        self._active_keys: dict[str, UUID] = {}
        # per queue: heap of (-priority, seq, id); entries may be stale and are checked on pop
        self._ready: dict[str, list[tuple[int, int, UUID]]] = {}
        # heap of (run_at, seq, id) for scheduled records
        self._delayed: list[tuple[datetime, int, UUID]] = []
        self._counter = itertools.count()
        self._paused: set[str] = set()
        self._limits: dict[str, QueueLimit] = {}
        self._buckets: dict[str, Bucket] = {}
        # running records per queue and per (queue, limit key): counted as they start and stop
        self._running: Counter[str] = Counter()
        self._key_running: Counter[tuple[str, str]] = Counter()
        # when a record held back for want of a token may start (time.monotonic), for wait_for_work
        self._token_due: float | None = None
        self._turns: dict[str, tuple[str, datetime]] = {}
        self._schedules: dict[str, ScheduleState] = {}
        self._workers: dict[str, WorkerInfo] = {}
        self._work_signal = Latch()
        self._cancel_signals = CancelSignals()
        self._finished = FinishSignals()

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Wake every waiter; records stay readable until the object is dropped."""
        self._work_signal.fire()
        self._finished.fire_all()

    # -- writes -------------------------------------------------------------------------------

    def _queue_ready(self, record: TaskRecord) -> None:
        heapq.heappush(
            self._ready.setdefault(record.queue, []), (-record.priority, self._seq[record.id], record.id)
        )

    def _queue(self, record: TaskRecord) -> None:
        if record.status == "scheduled":
            heapq.heappush(self._delayed, (record.run_at, self._seq[record.id], record.id))
        else:
            self._queue_ready(record)

    def _store(self, record: TaskRecord) -> EnqueueResult:
        if record.key is not None:
            holder = self._active_keys.get(record.key)
            if holder is not None:
                return EnqueueResult(record=self._records[holder], created=False)
            self._active_keys[record.key] = record.id
        self._records[record.id] = record
        self._seq[record.id] = next(self._counter)
        self._queue(record)
        return EnqueueResult(record=record, created=True)

    async def enqueue(self, records: Sequence[TaskRecord]) -> list[EnqueueResult]:
        """Store new records, returning the active holder of a taken dedup key instead."""
        results = [self._store(record) for record in records]
        if results:
            self._work_signal.fire()
        return results

    def _promote_due(self, now: datetime) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            _, _, task_id = heapq.heappop(self._delayed)
            record = self._records.get(task_id)
            if record is not None and record.status == "scheduled":
                self._queue_ready(record)

    def _is_ready(self, task_id: UUID, now: datetime) -> bool:
        record = self._records.get(task_id)
        return record is not None and (
            record.status == "pending" or (record.status == "scheduled" and record.run_at <= now)
        )

    def _take(self, record: TaskRecord, worker_id: str, now: datetime, lease_until: datetime) -> TaskRecord:
        claimed = msgspec.structs.replace(
            record,
            status="running",
            attempts=record.attempts + 1,
            runs=record.runs + 1,
            started_at=now,
            lease_id=uuid.uuid4().hex,
            lease_expires_at=lease_until,
            worker_id=worker_id,
        )
        self._records[record.id] = claimed
        self._running[record.queue] += 1
        if record.limit_key is not None:
            self._key_running[record.queue, record.limit_key] += 1
        return claimed

    def _stopped_running(self, record: TaskRecord) -> None:
        """Count out a running record that leaves ``running``; its queue's workers may claim again."""
        self._running[record.queue] -= 1
        if record.limit_key is not None:
            pair = (record.queue, record.limit_key)
            self._key_running[pair] -= 1
            if not self._key_running[pair]:
                del self._key_running[pair]
        if record.queue in self._limits:
            self._work_signal.fire()  # a slot of a limited queue is free

    def _gate(self, limits: dict[str, QueueLimit], now: datetime) -> LimitGate:
        return LimitGate(
            limits, now, running=self._running, key_running=self._key_running, buckets=self._buckets
        )

    def _spend(self, gate: LimitGate) -> None:
        """Store the buckets a claim took tokens from; note when a starved queue has a token again."""
        self._buckets.update(gate.buckets())
        wait = gate.token_wait()
        self._token_due = None if wait is None else time.monotonic() + wait

    async def claim(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[TaskRecord]:
        """Claim due records, highest priority first, then in enqueue order (limits applied)."""
        self._promote_due(now)
        wanted = self._ready if queues is None else queues
        names = [q for q in wanted if q in self._ready and q not in self._paused]
        limited = {name: self._limits[name] for name in names if name in self._limits}
        if limited:
            return self._claim_limited(names, limited, worker_id, limit, now, lease_until)
        heaps = [self._ready[name] for name in names]
        claimed: list[TaskRecord] = []
        while len(claimed) < limit:
            best: list[tuple[int, int, UUID]] | None = None
            for heap in heaps:
                while heap and not self._is_ready(heap[0][2], now):
                    heapq.heappop(heap)
                if heap and (best is None or heap[0] < best[0]):
                    best = heap
            if best is None:
                break
            _, _, task_id = heapq.heappop(best)
            claimed.append(self._take(self._records[task_id], worker_id, now, lease_until))
        return claimed

    def _claim_limited(
        self,
        names: list[str],
        limited: dict[str, QueueLimit],
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[TaskRecord]:
        """The claim when a queue has a limit: held-back heads are set aside, then put back as they were."""
        gate = self._gate(limited, now)
        heaps = {name: self._ready[name] for name in names}
        held: list[tuple[str, tuple[int, int, UUID]]] = []
        claimed: list[TaskRecord] = []
        while len(claimed) < limit:
            best: str | None = None
            for name in list(heaps):
                heap = heaps[name]
                while heap:
                    task_id = heap[0][2]
                    if not self._is_ready(task_id, now):
                        heapq.heappop(heap)
                    elif not gate.queue_open(name):
                        gate.note_held([name])
                        break
                    elif not gate.key_open(name, self._records[task_id].limit_key):
                        held.append((name, heapq.heappop(heap)))  # held back: it keeps its entry
                    else:
                        break
                if not heap or not gate.queue_open(name):
                    del heaps[name]  # drained, or at its cap / out of tokens: nothing more starts
                elif best is None or heap[0] < heaps[best][0]:
                    best = name
            if best is None:
                break
            _, _, task_id = heapq.heappop(heaps[best])
            record = self._records[task_id]
            gate.admit(best, record.limit_key)
            claimed.append(self._take(record, worker_id, now, lease_until))
        for name, entry in held:
            self._put_back(name, entry)
        self._spend(gate)
        return claimed

    def _put_back(self, queue: str, entry: tuple[int, int, UUID]) -> None:
        """Return a held-back record's entry to its queue as it was: it keeps its place."""
        heapq.heappush(self._ready[queue], entry)

    async def claim_task(
        self, task_id: UUID, *, worker_id: str, now: datetime, lease_until: datetime
    ) -> TaskRecord | None:
        """Claim one pending or scheduled record by id."""
        record = self._records.get(task_id)
        if record is None or record.status not in WAITING_STATUSES:
            return None
        limit = self._limits.get(record.queue)
        if limit is not None:
            gate = self._gate({record.queue: limit}, now)
            admitted = gate.admit(record.queue, record.limit_key)
            self._spend(gate)
            if not admitted:
                return None  # held back: it stays where it is
        return self._take(record, worker_id, now, lease_until)

    def _holds(self, task_id: UUID, lease_id: str) -> TaskRecord | None:
        record = self._records.get(task_id)
        if record is None or record.status != "running" or record.lease_id != lease_id:
            return None
        return record

    async def extend_leases(self, leases: Sequence[tuple[UUID, str]], *, until: datetime) -> set[UUID]:
        """Extend live leases; report the ones no longer held."""
        lost: set[UUID] = set()
        for task_id, lease_id in leases:
            record = self._holds(task_id, lease_id)
            if record is None:
                lost.add(task_id)
            else:
                self._records[task_id] = msgspec.structs.replace(record, lease_expires_at=until)
        return lost

    def _end(self, record: TaskRecord, **changes: object) -> TaskRecord:
        updated = msgspec.structs.replace(record, lease_id=None, lease_expires_at=None, **changes)
        self._records[record.id] = updated
        if record.status == "running":
            self._stopped_running(record)
        if updated.status in ("completed", "failed", "cancelled"):
            if record.key is not None and self._active_keys.get(record.key) == record.id:
                del self._active_keys[record.key]
        else:
            self._queue(updated)
        return updated

    async def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[TaskRecord | None]:
        """Apply outcomes under their leases; reject the ones whose lease is lost."""
        applied: list[TaskRecord | None] = []
        requeued = False
        for outcome in outcomes:
            record = self._holds(outcome.task_id, outcome.lease_id)
            if record is None:
                applied.append(None)
                continue
            if outcome.history is not None:
                record = msgspec.structs.replace(record, history=outcome.history)
            if outcome.kind == "complete":
                updated = self._end(record, status="completed", result=outcome.result, finished_at=now)
            elif outcome.kind == "fail":
                updated = self._end(record, status="failed", error=outcome.error, finished_at=now)
            elif outcome.kind == "retry":
                run_at = outcome.run_at if outcome.run_at is not None else now
                status = "scheduled" if run_at > now else "pending"
                updated = self._end(record, status=status, error=outcome.error, run_at=run_at)
                requeued = True
            else:
                updated = self._end(record, status="pending", attempts=record.attempts - 1)
                requeued = True
            applied.append(updated)
        if requeued:
            self._work_signal.fire()
        self._finished.deliver(r for r in applied if r is not None)
        return applied

    async def reclaim_expired(self, *, now: datetime) -> list[TaskRecord]:
        """Return running records with an expired lease to the queue, or fail them."""
        changed: list[TaskRecord] = []
        expired = [
            r
            for r in self._records.values()
            if r.status == "running" and r.lease_expires_at is not None and r.lease_expires_at < now
        ]
        for record in expired:
            reclaims = record.reclaims + 1
            if reclaims > record.max_reclaims:
                updated = self._end(
                    record,
                    status="failed",
                    reclaims=reclaims,
                    attempts=record.attempts - 1,
                    finished_at=now,
                    error=f"lease expired {reclaims} times: the task's worker was lost each time",
                )
            else:
                updated = self._end(
                    record,
                    status="pending",
                    reclaims=reclaims,
                    attempts=record.attempts - 1,
                    error="lease expired: the worker running the task was lost",
                )
            changed.append(updated)
        if changed:
            self._work_signal.fire()
            self._finished.deliver(changed)
        return changed

    async def cancel(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Cancel a record that is not terminal yet."""
        record = self._records.get(task_id)
        if record is None or record.status in ("completed", "failed", "cancelled"):
            return record
        updated = self._end(record, status="cancelled", finished_at=now)
        self._finished.deliver((updated,))
        if record.status == "running":
            self._cancel_signals.fire(record.worker_id, (task_id,))
        return updated

    async def requeue(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Put a failed or cancelled record back in its queue (a no-op for any other status)."""
        record = self._records.get(task_id)
        if record is None or record.status not in RETRYABLE_STATUSES:
            return record
        if record.key is not None and self._active_keys.get(record.key, record.id) != record.id:
            return record  # another active record holds the key now
        updated = msgspec.structs.replace(
            record,
            status="pending",
            run_at=now,
            attempts=0,
            reclaims=0,
            finished_at=None,
            result=None,
            lease_id=None,
            lease_expires_at=None,
        )
        self._records[task_id] = updated
        if record.key is not None:
            self._active_keys[record.key] = task_id
        self._queue(updated)
        self._work_signal.fire()
        return updated

    async def delete(self, query: RecordQuery) -> list[UUID]:
        """Delete what ``query`` lists, except running records; free their dedup keys."""
        deleted: list[UUID] = []
        for record in await self.query(query):
            if record.status == "running":
                continue
            del self._records[record.id]
            del self._seq[record.id]  # heap entries of the id go stale and are skipped
            if record.key is not None and self._active_keys.get(record.key) == record.id:
                del self._active_keys[record.key]
            deleted.append(record.id)
        self._finished.fire(deleted)  # their waiters find no record
        return deleted

    async def set_paused(self, queue: str, *, paused: bool) -> None:
        """Pause or resume ``queue``; a resume wakes the workers."""
        if paused:
            self._paused.add(queue)
        elif queue in self._paused:
            self._paused.discard(queue)
            self._work_signal.fire()

    async def paused_queues(self) -> set[str]:
        """The queues paused now."""
        return set(self._paused)

    async def set_limit(self, queue: str, limit: QueueLimit | None) -> None:
        """Store, replace or remove the limit of ``queue`` (its bucket kept while it keeps a rate)."""
        if limit is None:
            self._limits.pop(queue, None)
        else:
            self._limits[queue] = limit
        if limit is None or limit.rate is None:
            self._buckets.pop(queue, None)
        self._work_signal.fire()

    async def limits(self) -> dict[str, QueueLimit]:
        """The stored limits, by queue."""
        return dict(self._limits)

    async def take_turn(self, duty: str, *, holder: str, now: datetime, until: datetime) -> bool:
        """Give ``holder`` the duty until ``until`` unless another holder's turn is live."""
        current = self._turns.get(duty)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._turns[duty] = (holder, until)
        return True

    async def record_worker(self, info: WorkerInfo) -> None:
        """Store the presence of ``info.worker_id``; drop presences that expired before it was seen."""
        expired = [w for w, known in self._workers.items() if known.expires_at <= info.seen_at]
        for worker_id in expired:
            del self._workers[worker_id]
        self._workers[info.worker_id] = info

    async def live_workers(self, *, now: datetime) -> list[WorkerInfo]:
        """The presences not expired at ``now``, by start time then id."""
        live = [info for info in self._workers.values() if info.expires_at > now]
        live.sort(key=lambda info: (info.started_at, info.worker_id))
        return live

    async def forget_worker(self, worker_id: str) -> None:
        """Remove the presence of ``worker_id``."""
        self._workers.pop(worker_id, None)

    async def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        """Move ``name`` on to ``next_fire`` while it fires at ``expected``; a fire enqueues ``record``."""
        current = self._schedules.get(name)
        # expected=None matches only a schedule without a state
        if (None if current is None else current.next_fire) != expected:
            return None
        state = current or ScheduleState(name=name, next_fire=next_fire, updated_at=now)
        state = msgspec.structs.replace(state, next_fire=next_fire, updated_at=now)
        if record is not None:
            stored = self._store(record).record
            state = msgspec.structs.replace(state, last_fire=expected, last_task_id=stored.id)
            self._work_signal.fire()
        self._schedules[name] = state
        return state

    async def set_schedule_paused(self, name: str, *, paused: bool, now: datetime) -> ScheduleState | None:
        """Pause or resume the schedule ``name`` (``None``: it has no state)."""
        current = self._schedules.get(name)
        if current is None:
            return None
        state = self._schedules[name] = msgspec.structs.replace(current, paused=paused, updated_at=now)
        return state

    async def delete_schedule(self, name: str) -> bool:
        """Forget the schedule ``name``; its records stay."""
        return self._schedules.pop(name, None) is not None

    # -- reads --------------------------------------------------------------------------------

    async def schedule_states(self) -> list[ScheduleState]:
        """Every schedule state, sorted by name."""
        return [self._schedules[name] for name in sorted(self._schedules)]

    async def query(self, query: RecordQuery) -> list[TaskRecord]:
        """List matching records in ``(created_at, id)`` order from the query's position on."""
        found = [r for r in self._records.values() if query.matches(r) and query.beyond(r)]
        found.sort(key=lambda r: (r.created_at, r.id.bytes), reverse=query.newest_first)
        return found[: query.limit]

    async def get(self, task_id: UUID) -> TaskRecord | None:
        """Load one record."""
        return self._records.get(task_id)

    async def counts(self) -> dict[str, dict[str, int]]:
        """Count records per queue and status."""
        result: dict[str, dict[str, int]] = {}
        for record in self._records.values():
            per_queue = result.setdefault(record.queue, {})
            per_queue[record.status] = per_queue.get(record.status, 0) + 1
        return result

    async def finished_counts(self, *, since: datetime) -> dict[str, dict[str, int]]:
        """Count records finished at or after ``since`` per queue and status.

        A scan of every record: the memory backend holds what one process's memory does (100,000
        records take about 16 ms on a laptop-class machine).
        """
        result: dict[str, dict[str, int]] = {}
        for record in self._records.values():
            finished = record.finished_at
            if finished is not None and finished >= since and record.status in TERMINAL_STATUSES:
                per_queue = result.setdefault(record.queue, {})
                per_queue[record.status] = per_queue.get(record.status, 0) + 1
        return result

    async def wait_for_work(self, queues: Sequence[str] | None, timeout: float) -> None:
        """Return on the next enqueue, requeue or freed slot of a limited queue, or after ``timeout``.

        After a claim held a record back for want of a token, the wait ends when one is due.
        """
        due, self._token_due = self._token_due, None  # one wait ends early; the next claim notes it again
        if due is not None:
            timeout = max(0.0, min(timeout, due - time.monotonic()))
        await self._work_signal.wait(timeout)

    async def wait_for_cancel(self, worker_id: str, timeout: float) -> set[UUID]:
        """The ids of ``worker_id``'s running records cancelled since its last call."""
        return await self._cancel_signals.wait(worker_id, timeout)

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        """The record once terminal (handed over by the write that finished it), else ``None``.

        ``None`` when no record has the id, when it was deleted meanwhile, or after ``timeout``.
        """
        with self._finished.subscribe(task_id) as waiting:
            record = self._records.get(task_id)
            if record is None or record.is_terminal:
                return record
            return await waiting.wait(timeout)
