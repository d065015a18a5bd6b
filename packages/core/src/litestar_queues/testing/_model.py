"""A plain reference model of a queue backend, used by the contract's state machine.

It predicts what every operation of the port must do, so the machine can compare a real backend
with it step by step. It keeps only what the rules decide; lease ids come from the backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from litestar_queues.models import ACTIVE_STATUSES, TERMINAL_STATUSES, ScheduleState

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import Outcome, RecordQuery, TaskRecord, WorkerInfo

__all__ = ("ClaimPlan", "Model", "ModelRecord")

_MICROSECOND = timedelta(microseconds=1)


@dataclass
class ModelRecord:
    """What the model knows about one stored record."""

    submitted: TaskRecord
    seq: int
    status: str
    run_at: datetime
    attempts: int = 0
    runs: int = 0
    reclaims: int = 0
    lease_id: str | None = None
    lease_expires_at: datetime | None = None
    worker_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: Any = None
    error: str | None = None
    # after a reclaim the error text is the backend's own: any non-empty text is accepted
    any_error: bool = False
    # a record failed by reclaim may keep the expired attempt counted, or not
    alt_attempts: int | None = None
    leases: set[str] = field(default_factory=set)

    @property
    def id(self) -> UUID:
        """The record's id."""
        return self.submitted.id

    def is_due(self, now: datetime) -> bool:
        """Whether a claim at ``now`` may hand the record out."""
        return self.status == "pending" or (self.status == "scheduled" and self.run_at <= now)


@dataclass
class ClaimPlan:
    """What a claim must do under the limits: the records it hands out, and why others wait.

    Attributes:
        ids: The records handed out, in claim order.
        held: Records due and passed over, with the limit that held each back.
        tokens: Per rate-limited queue, the bucket's tokens at the claim's time (before it).
        buckets: The buckets to store after the claim: ``(tokens, counted_at)`` per queue it
            took tokens from.
    """

    ids: list[UUID]
    held: dict[UUID, str] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, tuple[float, datetime]] = field(default_factory=dict)


class Model:
    """The reference: records in a dict, enqueue order as a counter, schedule states by name."""

    def __init__(self) -> None:
        self.records: dict[UUID, ModelRecord] = {}
        self.paused: set[str] = set()
        self.limits: dict[str, QueueLimit] = {}
        # per rate-limited queue: the tokens left by the last claim that took some, and its time
        self.buckets: dict[str, tuple[float, datetime]] = {}
        self.turns: dict[str, tuple[str, datetime]] = {}
        self.schedules: dict[str, ScheduleState] = {}
        self.workers: dict[str, WorkerInfo] = {}
        self._seq = 0

    # -- predictions ---------------------------------------------------------------------------

    def key_holder(self, key: str | None) -> ModelRecord | None:
        """The active record holding ``key``, if any."""
        if key is None:
            return None
        for record in self.records.values():
            if record.submitted.key == key and record.status in ACTIVE_STATUSES:
                return record
        return None

    def due_order(self, queues: Sequence[str] | None, now: datetime) -> list[UUID]:
        """Ids a claim at ``now`` hands out, in claim order (priority, then enqueue order)."""
        due = [
            r
            for r in self.records.values()
            if r.is_due(now)
            and (queues is None or r.submitted.queue in queues)
            and r.submitted.queue not in self.paused
        ]
        due.sort(key=lambda r: (-r.submitted.priority, r.seq))
        return [r.id for r in due]

    def running(self, queue: str, limit_key: str | None = None) -> int:
        """Running records of ``queue`` (with ``limit_key`` only, when given)."""
        return sum(
            1
            for r in self.records.values()
            if r.status == "running"
            and r.submitted.queue == queue
            and (limit_key is None or r.submitted.limit_key == limit_key)
        )

    def tokens(self, queue: str, now: datetime) -> float:
        """The tokens of ``queue``'s bucket at ``now``: full when none is stored, refilled since."""
        limit = self.limits[queue]
        assert limit.rate is not None
        stored = self.buckets.get(queue)
        if stored is None:
            return float(limit.rate)
        tokens, counted_at = stored
        elapsed = max(0, (now - counted_at) // _MICROSECOND)
        return min(float(limit.rate), tokens + elapsed * limit.rate / (limit.per * 1_000_000))

    def plan_claim(self, candidates: Sequence[UUID], now: datetime, limit: int | None) -> ClaimPlan:
        """Which of ``candidates`` (due, in claim order) a claim at ``now`` hands out under the limits.

        Each record is held back when its queue is at its cap, its limit key at the key cap, or
        its queue's bucket holds less than one token, counting those handed out before it.
        """
        plan = ClaimPlan(ids=[])
        running: dict[str, int] = {}
        keyed: dict[tuple[str, str], int] = {}
        left: dict[str, float] = {}
        for task_id in candidates:
            if limit is not None and len(plan.ids) >= limit:
                break
            submitted = self.records[task_id].submitted
            queue, key = submitted.queue, submitted.limit_key
            queue_limit = self.limits.get(queue)
            if queue_limit is None:
                plan.ids.append(task_id)
                continue
            if queue not in running:
                running[queue] = self.running(queue)
                if queue_limit.rate is not None:
                    plan.tokens[queue] = left[queue] = self.tokens(queue, now)
            if key is not None and (queue, key) not in keyed:
                keyed[queue, key] = self.running(queue, key)
            if queue_limit.concurrency is not None and running[queue] >= queue_limit.concurrency:
                plan.held[task_id] = (
                    f"queue {queue!r} runs {running[queue]} of its cap {queue_limit.concurrency}"
                )
            elif (
                queue_limit.key_concurrency is not None
                and key is not None
                and (keyed[queue, key] >= queue_limit.key_concurrency)
            ):
                plan.held[task_id] = (
                    f"limit key {key!r} runs {keyed[queue, key]} in queue {queue!r}, its key cap is "
                    f"{queue_limit.key_concurrency}"
                )
            elif queue in left and left[queue] < 1:
                plan.held[task_id] = f"queue {queue!r}'s bucket holds {left[queue]:g} token(s)"
            else:
                plan.ids.append(task_id)
                running[queue] += 1
                if key is not None:
                    keyed[queue, key] += 1
                if queue in left:
                    left[queue] -= 1
                    stored = self.buckets.get(queue)
                    plan.buckets[queue] = (left[queue], now if stored is None else max(stored[1], now))
        return plan

    def set_limit(self, queue: str, limit: QueueLimit | None) -> None:
        """Store or remove ``queue``'s limit; its bucket stays while the queue keeps a rate."""
        if limit is None:
            self.limits.pop(queue, None)
        else:
            self.limits[queue] = limit
        if limit is None or limit.rate is None:
            self.buckets.pop(queue, None)

    def holds(self, task_id: UUID, lease_id: str) -> bool:
        """Whether ``lease_id`` is the live lease of a running record."""
        record = self.records.get(task_id)
        return record is not None and record.status == "running" and record.lease_id == lease_id

    def expired(self, now: datetime) -> set[UUID]:
        """Ids of running records whose lease expired before ``now``."""
        return {
            r.id
            for r in self.records.values()
            if r.status == "running" and r.lease_expires_at is not None and r.lease_expires_at < now
        }

    # -- changes -------------------------------------------------------------------------------

    def enqueue(self, record: TaskRecord) -> tuple[UUID, bool]:
        """Store ``record`` unless its key is held; return the resulting id and ``created``."""
        holder = self.key_holder(record.key)
        if holder is not None:
            return holder.id, False
        self.records[record.id] = ModelRecord(
            submitted=record, seq=self._seq, status=record.status, run_at=record.run_at
        )
        self._seq += 1
        return record.id, True

    def claim(self, task_id: UUID, *, lease_id: str, worker_id: str, now: datetime, until: datetime) -> None:
        """Record a claim the backend made."""
        record = self.records[task_id]
        record.status = "running"
        record.attempts += 1
        record.runs += 1
        record.lease_id = lease_id
        record.lease_expires_at = until
        record.worker_id = worker_id
        record.started_at = now
        record.alt_attempts = None
        record.leases.add(lease_id)

    def extend(self, leases: Sequence[tuple[UUID, str]], until: datetime) -> set[UUID]:
        """Extend held leases; return the ids whose lease is lost."""
        lost: set[UUID] = set()
        for task_id, lease_id in leases:
            if self.holds(task_id, lease_id):
                self.records[task_id].lease_expires_at = until
            else:
                lost.add(task_id)
        return lost

    def _leave_running(self, record: ModelRecord, status: str) -> None:
        record.status = status
        record.lease_id = None
        record.lease_expires_at = None

    def finish(self, outcome: Outcome, now: datetime) -> bool:
        """Apply one outcome; return whether it applies (the lease is held)."""
        if not self.holds(outcome.task_id, outcome.lease_id):
            return False
        record = self.records[outcome.task_id]
        if outcome.kind in ("fail", "retry"):
            record.any_error = False  # the outcome sets the error; complete and release keep it
        if outcome.kind == "complete":
            self._leave_running(record, "completed")
            record.result = outcome.result
            record.finished_at = now
        elif outcome.kind == "fail":
            self._leave_running(record, "failed")
            record.error = outcome.error
            record.finished_at = now
        elif outcome.kind == "retry":
            run_at = now if outcome.run_at is None else outcome.run_at
            self._leave_running(record, "scheduled" if run_at > now else "pending")
            record.error = outcome.error
            record.run_at = run_at
        else:
            self._leave_running(record, "pending")
            record.attempts -= 1
        return True

    def reclaim(self, now: datetime) -> set[UUID]:
        """Return expired leases to the queue (or fail them); return the ids changed."""
        changed = self.expired(now)
        for task_id in changed:
            record = self.records[task_id]
            record.reclaims += 1
            record.any_error = True
            record.attempts -= 1
            if record.reclaims > record.submitted.max_reclaims:
                self._leave_running(record, "failed")
                record.finished_at = now
                record.alt_attempts = record.attempts + 1
            else:
                self._leave_running(record, "pending")
        return changed

    def requeue(self, task_id: UUID, now: datetime) -> ModelRecord | None:
        """Put a failed or cancelled record back (unless another active record holds its key)."""
        record = self.records.get(task_id)
        if record is None or record.status not in ("failed", "cancelled"):
            return record
        holder = self.key_holder(record.submitted.key)
        if holder is not None and holder.id != task_id:
            return record
        record.status = "pending"
        record.run_at = now
        record.attempts = 0
        record.reclaims = 0
        record.finished_at = None
        record.result = None
        record.alt_attempts = None
        return record

    def listed(self, query: RecordQuery, reported: dict[UUID, str] | None = None) -> list[UUID]:
        """Ids ``query`` lists, in its order, from its position on (without its limit).

        ``reported``: the status the backend reports for due scheduled records (``scheduled``
        or ``pending``, both allowed); a status filter matches that one.
        """
        found = []
        for record in self.records.values():
            submitted = record.submitted
            finished = record.finished_at
            status = (reported or {}).get(record.id, record.status)
            checks = (
                query.queues is None or submitted.queue in query.queues,
                query.statuses is None or status in query.statuses,
                query.task_names is None or submitted.task_name in query.task_names,
                query.key is None or submitted.key == query.key,
                query.created_after is None or submitted.created_at >= query.created_after,
                query.created_before is None or submitted.created_at < query.created_before,
                query.finished_after is None or (finished is not None and finished >= query.finished_after),
                query.finished_before is None or (finished is not None and finished < query.finished_before),
            )
            if all(checks):
                found.append(((submitted.created_at, submitted.id.bytes), record.id))
        found.sort(reverse=query.newest_first)
        if query.after is not None:
            mark = (query.after.created_at, query.after.id.bytes)
            found = [f for f in found if (f[0] < mark if query.newest_first else f[0] > mark)]
        return [task_id for _, task_id in found]

    def cancel(self, task_id: UUID, now: datetime) -> ModelRecord | None:
        """Cancel a record that is not terminal; return it (``None`` when unknown)."""
        record = self.records.get(task_id)
        if record is None or record.status in TERMINAL_STATUSES:
            return record
        self._leave_running(record, "cancelled")
        record.finished_at = now
        return record

    def finished(self, task_id: UUID) -> ModelRecord | None:
        """What ``wait_for_finish`` may return besides ``None``: the record once terminal.

        ``None`` here (an active, deleted or unknown record) means the backend must return ``None``.
        """
        record = self.records.get(task_id)
        return record if record is not None and record.status in TERMINAL_STATUSES else None

    def delete(self, query: RecordQuery, reported: dict[UUID, str] | None = None) -> list[UUID]:
        """Delete what ``query`` lists (its limit included), except running records; return the ids."""
        chosen = self.listed(query, reported)[: query.limit]
        deleted = [task_id for task_id in chosen if self.records[task_id].status != "running"]
        for task_id in deleted:
            del self.records[task_id]
        return deleted

    def set_paused(self, queue: str, *, paused: bool) -> None:
        """Pause or resume ``queue``."""
        if paused:
            self.paused.add(queue)
        else:
            self.paused.discard(queue)

    def take_turn(self, duty: str, *, holder: str, now: datetime, until: datetime) -> bool:
        """Give ``holder`` the duty unless another holder's turn is live at ``now``."""
        current = self.turns.get(duty)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self.turns[duty] = (holder, until)
        return True

    # -- operators' reads -----------------------------------------------------------------------

    def record_worker(self, info: WorkerInfo) -> None:
        """Store the presence of ``info.worker_id`` (expired entries are kept: they are not listed)."""
        self.workers[info.worker_id] = info

    def forget_worker(self, worker_id: str) -> None:
        """Remove the presence of ``worker_id``."""
        self.workers.pop(worker_id, None)

    def live_workers(self, now: datetime) -> list[WorkerInfo]:
        """The presences with ``expires_at`` after ``now``, by ``(started_at, worker_id)``."""
        live = [info for info in self.workers.values() if info.expires_at > now]
        return sorted(live, key=lambda info: (info.started_at, info.worker_id))

    def finished_counts(self, since: datetime) -> dict[str, dict[str, int]]:
        """Records finished at or after ``since``, per queue and finished status (no zeros)."""
        counts: dict[str, dict[str, int]] = {}
        for record in self.records.values():
            finished = record.finished_at
            if record.status in TERMINAL_STATUSES and finished is not None and finished >= since:
                per_queue = counts.setdefault(record.submitted.queue, {})
                per_queue[record.status] = per_queue.get(record.status, 0) + 1
        return counts

    # -- schedules -----------------------------------------------------------------------------

    def schedule_states(self) -> list[ScheduleState]:
        """Every schedule state, sorted by name."""
        return [self.schedules[name] for name in sorted(self.schedules)]

    def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        """Compare-and-set ``name``'s next fire; a fire enqueues ``record`` (``None``: refused)."""
        current = self.schedules.get(name)
        if (None if current is None else current.next_fire) != expected:
            return None
        if current is None:
            current = ScheduleState(name=name, next_fire=next_fire, updated_at=now)
        state = msgspec.structs.replace(current, next_fire=next_fire, updated_at=now)
        if record is not None:
            task_id, _ = self.enqueue(record)
            state = msgspec.structs.replace(state, last_fire=expected, last_task_id=task_id)
        self.schedules[name] = state
        return state

    def set_schedule_paused(self, name: str, *, paused: bool, now: datetime) -> ScheduleState | None:
        """Pause or resume ``name`` (``None``: no state)."""
        current = self.schedules.get(name)
        if current is None:
            return None
        state = self.schedules[name] = msgspec.structs.replace(current, paused=paused, updated_at=now)
        return state

    def delete_schedule(self, name: str) -> bool:
        """Forget ``name``'s state; whether there was one."""
        return self.schedules.pop(name, None) is not None
