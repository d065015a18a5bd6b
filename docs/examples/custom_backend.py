"""A complete queue backend in one file: records in a dict, enqueue order in a list.

Every claim scans the whole list, so it suits small queues only; it is here to show what a
backend must do, in the plainest code. It passes the contract kit
(tests/contract/test_custom_backend_example.py).
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING

import anyio
import msgspec

from litestar_queues.backends.signals import CancelSignals
from litestar_queues.limits import LimitGate
from litestar_queues.models import EnqueueResult, ScheduleState, TaskRecord, WorkerInfo
from litestar_queues.ports import BackendReach

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from litestar_queues.limits import Bucket, QueueLimit
    from litestar_queues.models import Outcome, RecordQuery

ACTIVE = ("pending", "scheduled", "running")
TERMINAL = ("completed", "failed", "cancelled")


class ListQueueBackend:
    """Keeps records in a dict and their enqueue order in a list.

    Atomicity: no method awaits between reading and writing the records, so each runs as one
    step on the event loop. A backend over a database gets the same from a transaction, or a
    Lua script on Redis.
    """

    reach = BackendReach.PROCESS  # records live in this process's memory

    def __init__(self, url: str | None = None) -> None:
        self._records: dict[UUID, TaskRecord] = {}
        self._order: list[UUID] = []  # enqueue order; a requeued record keeps its place
        self._work = anyio.Event()  # latched: set by new work, reset by the waiter it wakes
        self._finished = anyio.Event()  # broadcast: replaced by a fresh event when set
        self._cancels = CancelSignals()  # running records' cancels, per worker
        self._paused: set[str] = set()
        self._limits: dict[str, QueueLimit] = {}  # queue: its limit
        self._buckets: dict[str, Bucket] = {}  # rate-limited queue: its token bucket
        self._turns: dict[str, tuple[str, datetime]] = {}  # duty: (holder, end of its turn)
        self._schedules: dict[str, ScheduleState] = {}  # schedule name: its state
        self._workers: dict[str, WorkerInfo] = {}  # worker id: its latest presence

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Wake every waiter."""
        self._wake_workers()
        self._wake_finish_waiters()

    # -- writes ---------------------------------------------------------------------------------

    async def enqueue(self, records: Sequence[TaskRecord]) -> list[EnqueueResult]:
        """Store records in order; a held dedup key returns the active holder instead."""
        results = [self._add(record) for record in records]
        self._wake_workers()
        return results

    async def claim(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[TaskRecord]:
        """Claim due records: highest priority first, then enqueue order, within the queues' limits."""
        due = [
            record
            for record in (self._records[task_id] for task_id in self._order)
            if _is_due(record, now)
            and (queues is None or record.queue in queues)
            and record.queue not in self._paused
        ]
        due.sort(key=lambda record: -record.priority)  # a stable sort keeps enqueue order
        gate = self._gate(now)
        claimed = []
        for record in due:
            if len(claimed) >= limit:
                break
            if gate.admit(record.queue, record.limit_key):  # else held back: it keeps its place
                claimed.append(self._start(record, worker_id, now, lease_until))
        self._buckets.update(gate.buckets())  # the tokens taken, in the same step
        return claimed

    async def claim_task(
        self, task_id: UUID, *, worker_id: str, now: datetime, lease_until: datetime
    ) -> TaskRecord | None:
        """Claim one pending or scheduled record by id, due or not, within its queue's limit."""
        record = self._records.get(task_id)
        if record is None or record.status not in ("pending", "scheduled"):
            return None
        gate = self._gate(now)
        if not gate.admit(record.queue, record.limit_key):
            return None  # its queue's limit holds it back
        self._buckets.update(gate.buckets())
        return self._start(record, worker_id, now, lease_until)

    async def extend_leases(self, leases: Sequence[tuple[UUID, str]], *, until: datetime) -> set[UUID]:
        """Move held leases to ``until``; report the ids whose lease is gone."""
        lost = set()
        for task_id, lease_id in leases:
            record = self._held(task_id, lease_id)
            if record is None:
                lost.add(task_id)
            else:
                self._save(msgspec.structs.replace(record, lease_expires_at=until))
        return lost

    async def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[TaskRecord | None]:
        """Apply each outcome whose lease is still held; reject (``None``) the others."""
        results: list[TaskRecord | None] = []
        for outcome in outcomes:
            record = self._held(outcome.task_id, outcome.lease_id)
            if record is not None and outcome.history is not None:  # stored as the core wrote it
                record = msgspec.structs.replace(record, history=outcome.history)
            if record is None:
                results.append(None)
            elif outcome.kind == "complete":
                results.append(self._stop(record, "completed", result=outcome.result, finished_at=now))
            elif outcome.kind == "fail":
                results.append(self._stop(record, "failed", error=outcome.error, finished_at=now))
            elif outcome.kind == "retry":
                run_at = now if outcome.run_at is None else outcome.run_at
                status = "scheduled" if run_at > now else "pending"
                results.append(self._stop(record, status, error=outcome.error, run_at=run_at))
            else:  # release: the attempt does not count
                results.append(self._stop(record, "pending", attempts=record.attempts - 1))
        return results

    async def reclaim_expired(self, *, now: datetime) -> list[TaskRecord]:
        """Requeue (or fail, past ``max_reclaims``) running records whose lease expired."""
        changed = []
        for record in list(self._records.values()):
            if (
                record.status != "running"
                or record.lease_expires_at is None
                or record.lease_expires_at >= now
            ):
                continue
            reclaims = record.reclaims + 1
            if reclaims > record.max_reclaims:
                changed.append(
                    self._stop(
                        record,
                        "failed",
                        attempts=record.attempts - 1,
                        reclaims=reclaims,
                        finished_at=now,
                        error=f"lease expired {reclaims} times",
                    )
                )
            else:
                changed.append(
                    self._stop(
                        record,
                        "pending",
                        attempts=record.attempts - 1,
                        reclaims=reclaims,
                        error="lease expired",
                    )
                )
        return changed

    async def cancel(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Cancel an active record; a terminal one is returned unchanged."""
        record = self._records.get(task_id)
        if record is None or record.status in TERMINAL:
            return record
        if record.status == "running":
            self._cancels.fire(record.worker_id, (task_id,))  # tell its worker at once
        return self._stop(record, "cancelled", finished_at=now)

    async def requeue(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Put a failed or cancelled record back, unless another active record holds its key."""
        record = self._records.get(task_id)
        if record is None or record.status not in ("failed", "cancelled"):
            return record
        if self._key_holder(record.key) is not None:
            return record
        return self._stop(
            record, "pending", run_at=now, attempts=0, reclaims=0, finished_at=None, result=None
        )

    async def delete(self, query: RecordQuery) -> list[UUID]:
        """Delete what ``query`` lists, except running records (they belong to their workers)."""
        deleted = [r.id for r in await self.query(query) if r.status != "running"]
        for task_id in deleted:
            del self._records[task_id]  # the dedup key goes with it: _key_holder scans records
            self._order.remove(task_id)
        return deleted

    async def set_paused(self, queue: str, *, paused: bool) -> None:
        """Pause a queue (claim skips it) or resume it (and wake the workers)."""
        if paused:
            self._paused.add(queue)
        elif queue in self._paused:
            self._paused.remove(queue)
            self._wake_workers()

    async def paused_queues(self) -> set[str]:
        """The queues paused now."""
        return set(self._paused)

    async def set_limit(self, queue: str, limit: QueueLimit | None) -> None:
        """Store, replace or remove a queue's limit; its token bucket lives as long as its rate."""
        if limit is None:
            self._limits.pop(queue, None)
        else:
            self._limits[queue] = limit
        if limit is None or limit.rate is None:
            self._buckets.pop(queue, None)
        self._wake_workers()

    async def limits(self) -> dict[str, QueueLimit]:
        """The stored limits, by queue."""
        return dict(self._limits)

    async def take_turn(self, duty: str, *, holder: str, now: datetime, until: datetime) -> bool:
        """Give ``holder`` the duty until ``until`` unless another holder's turn is still live."""
        current = self._turns.get(duty)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._turns[duty] = (holder, until)
        return True

    async def record_worker(self, info: WorkerInfo) -> None:
        """Store a worker's presence (replacing its last one); drop presences expired by then."""
        for worker_id, known in list(self._workers.items()):
            if known.expires_at <= info.seen_at:
                del self._workers[worker_id]
        self._workers[info.worker_id] = info

    async def forget_worker(self, worker_id: str) -> None:
        """A clean stop: the worker is gone at once."""
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
        """Compare-and-set: move ``name`` on only while it fires at ``expected`` (``None``: no state)."""
        current = self._schedules.get(name)
        if (current.next_fire if current else None) != expected:
            return None  # another scheduler moved it first: change nothing, store nothing
        state = current or ScheduleState(name=name, next_fire=next_fire, updated_at=now)
        state = msgspec.structs.replace(state, next_fire=next_fire, updated_at=now)  # paused kept
        if record is not None:  # a fire: enqueue in the same step (a held key gives its holder)
            fired = self._add(record).record
            state = msgspec.structs.replace(state, last_fire=expected, last_task_id=fired.id)
            self._wake_workers()
        self._schedules[name] = state
        return state

    async def set_schedule_paused(self, name: str, *, paused: bool, now: datetime) -> ScheduleState | None:
        """Pause or resume a schedule that has a state; its due times stay as they are."""
        current = self._schedules.get(name)
        if current is None:
            return None
        self._schedules[name] = msgspec.structs.replace(current, paused=paused, updated_at=now)
        return self._schedules[name]

    async def delete_schedule(self, name: str) -> bool:
        """Forget a schedule removed from code; the records it enqueued stay."""
        return self._schedules.pop(name, None) is not None

    # -- reads ----------------------------------------------------------------------------------

    async def schedule_states(self) -> list[ScheduleState]:
        """Every schedule state, sorted by name."""
        return sorted(self._schedules.values(), key=lambda state: state.name)

    async def query(self, query: RecordQuery) -> list[TaskRecord]:
        """Matching records by ``(created_at, id)``, from the query's position on: a full scan."""
        found = [r for r in self._records.values() if query.matches(r) and query.beyond(r)]
        found.sort(key=lambda r: (r.created_at, r.id.bytes), reverse=query.newest_first)
        return found[: query.limit]

    async def live_workers(self, *, now: datetime) -> list[WorkerInfo]:
        """The presences that have not expired at ``now``, by start time then id."""
        live = [info for info in self._workers.values() if info.expires_at > now]
        return sorted(live, key=lambda info: (info.started_at, info.worker_id))

    async def finished_counts(self, *, since: datetime) -> dict[str, dict[str, int]]:
        """Records finished at or after ``since`` per queue and status: a full scan here.

        A backend meant for many records reads an index by finish time instead.
        """
        counts: dict[str, dict[str, int]] = {}
        for record in self._records.values():
            if record.status in TERMINAL and record.finished_at is not None and record.finished_at >= since:
                per_queue = counts.setdefault(record.queue, {})
                per_queue[record.status] = per_queue.get(record.status, 0) + 1
        return counts

    async def get(self, task_id: UUID) -> TaskRecord | None:
        """Load one record."""
        return self._records.get(task_id)

    async def counts(self) -> dict[str, dict[str, int]]:
        """Count records per queue and status."""
        counts: dict[str, dict[str, int]] = {}
        for record in self._records.values():
            per_queue = counts.setdefault(record.queue, {})
            per_queue[record.status] = per_queue.get(record.status, 0) + 1
        return counts

    async def wait_for_work(self, queues: Sequence[str] | None, timeout: float) -> None:
        """Return on new work (also work that arrived before the call), or after ``timeout``."""
        event = self._work
        with anyio.move_on_after(timeout):
            await event.wait()
        if event.is_set() and event is self._work:
            self._work = anyio.Event()  # this waiter consumed the wake-up

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        """The record when terminal at the look; else ``None`` (read it), on a finish or after ``timeout``."""
        event = self._finished  # subscribe first...
        record = self._records.get(task_id)  # ...then look once
        if record is None or record.status in TERMINAL:
            return record  # at hand: the caller takes it without reading it again
        with anyio.move_on_after(timeout):
            await event.wait()
        return None  # the wake-up does not carry the record: "it may have changed, read it"

    async def wait_for_cancel(self, worker_id: str, timeout: float) -> set[UUID]:
        """The ids of ``worker_id``'s running records cancelled since its last call."""
        return await self._cancels.wait(worker_id, timeout)

    # -- helpers --------------------------------------------------------------------------------

    def _save(self, record: TaskRecord) -> TaskRecord:
        self._records[record.id] = record
        return record

    def _add(self, record: TaskRecord) -> EnqueueResult:
        holder = self._key_holder(record.key)
        if holder is not None:
            return EnqueueResult(record=holder, created=False)
        self._order.append(record.id)
        return EnqueueResult(record=self._save(record), created=True)

    def _key_holder(self, key: str | None) -> TaskRecord | None:
        if key is None:
            return None
        for record in self._records.values():
            if record.key == key and record.status in ACTIVE:
                return record
        return None

    def _held(self, task_id: UUID, lease_id: str) -> TaskRecord | None:
        record = self._records.get(task_id)
        if record is None or record.status != "running" or record.lease_id != lease_id:
            return None
        return record

    def _start(self, record: TaskRecord, worker_id: str, now: datetime, lease_until: datetime) -> TaskRecord:
        return self._save(
            msgspec.structs.replace(
                record,
                status="running",
                attempts=record.attempts + 1,
                runs=record.runs + 1,
                started_at=now,
                lease_id=uuid.uuid4().hex,
                lease_expires_at=lease_until,
                worker_id=worker_id,
            )
        )

    def _stop(self, record: TaskRecord, status: str, **changes: object) -> TaskRecord:
        """Leave ``running`` (or cancel): clear the lease and wake whoever waits for it."""
        updated = self._save(
            msgspec.structs.replace(record, status=status, lease_id=None, lease_expires_at=None, **changes)
        )
        if status in TERMINAL:
            self._wake_finish_waiters()
        if status not in TERMINAL or record.queue in self._limits:
            self._wake_workers()  # new work, or a slot of a limited queue came free
        return updated

    def _gate(self, now: datetime) -> LimitGate:
        """The limits' rule for one claim at ``now``: what runs, and the stored buckets."""
        running = [r for r in self._records.values() if r.status == "running"]
        return LimitGate(
            self._limits,
            now,
            running=Counter(r.queue for r in running),
            key_running=Counter((r.queue, r.limit_key) for r in running if r.limit_key is not None),
            buckets=self._buckets,
        )

    def _wake_workers(self) -> None:
        self._work.set()

    def _wake_finish_waiters(self) -> None:
        self._finished.set()
        self._finished = anyio.Event()


def _is_due(record: TaskRecord, now: datetime) -> bool:
    return record.status == "pending" or (record.status == "scheduled" and record.run_at <= now)
