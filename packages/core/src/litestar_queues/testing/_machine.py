"""The contract's hypothesis state machine: random operation sequences against backend and model.

The record rules are here; the schedule rules come from :mod:`._machine_schedules`, the rules on
operators' reads (worker presence, finished counts) from :mod:`._machine_presence`, and the
plumbing (the backend, the portal, the checks after each step) from :mod:`._machine_base`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import hypothesis
import hypothesis.strategies as st
import msgspec
from anyio.from_thread import start_blocking_portal
from hypothesis.stateful import initialize, precondition, rule, run_state_machine_as_test

from litestar_queues.models import TERMINAL_STATUSES, WAITING_STATUSES, Outcome, QueryPosition, RecordQuery
from litestar_queues.testing._check import (
    ContractViolation,
    check_finished,
    expect,
    expect_equal,
    make_record,
)
from litestar_queues.testing._compare import check_record
from litestar_queues.testing._machine_base import QUEUES, WORKERS, BackendFactory
from litestar_queues.testing._machine_limits import FIRST_LIMITS, LIMIT_KEYS, LimitRules
from litestar_queues.testing._machine_presence import PresenceRules
from litestar_queues.testing._machine_schedules import ScheduleRules

if TYPE_CHECKING:
    from collections.abc import Iterable
    from uuid import UUID

    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import TaskRecord
    from litestar_queues.ports import QueueBackend

__all__ = ("BackendFactory", "run_backend_machine")

_QUEUE_FILTERS: tuple[tuple[str, ...] | None, ...] = (None, ("default",), ("other",), ("other", "default"))
_SPEC = st.fixed_dictionaries(
    {
        "queue": st.sampled_from(QUEUES),
        "priority": st.integers(-1, 2),
        "key": st.sampled_from((None, None, "k1", "k2")),
        "limit_key": st.sampled_from(LIMIT_KEYS),
        "delay": st.sampled_from((0.0, 0.0, 0.0, 0.0, 1.0, 5.0, 20.0)),
        "max_retries": st.integers(0, 2),
        "max_reclaims": st.integers(0, 2),
    }
)
_KINDS = ("complete", "fail", "retry", "retry_later", "retry_past", "release")
_STATUS_FILTERS: tuple[tuple[str, ...] | None, ...] = (
    None,
    ("pending",),
    ("failed", "cancelled"),
    ("completed",),
    ("running", "scheduled"),
)

# what delete is asked to remove (running records never go, whatever the filter says)
_DELETE_FILTERS: tuple[tuple[str, ...] | None, ...] = (
    None,
    ("running", "pending"),
    ("completed",),
    ("failed", "cancelled"),
    ("pending",),
    ("scheduled", "pending"),
    ("completed", "failed", "cancelled", "pending", "scheduled"),
)


class _BackendMachine(ScheduleRules, PresenceRules, LimitRules):
    """Drives one backend and the reference model with the same operations."""

    # -- rules ---------------------------------------------------------------------------------

    @initialize(
        limit=st.sampled_from(FIRST_LIMITS), backlog=st.lists(st.sampled_from(LIMIT_KEYS), max_size=4)
    )
    def start(self, limit: QueueLimit | None, backlog: list[str | None]) -> None:
        """Start with a limit on the default queue (or none) and a backlog there, under limit keys."""
        if limit is not None:
            self.set_limit("default", limit)
        if backlog:
            spec = {"queue": "default", "priority": 0, "key": None, "delay": 0.0}
            self.enqueue([{**spec, "limit_key": key, "max_retries": 1, "max_reclaims": 1} for key in backlog])

    @rule(specs=st.lists(_SPEC, min_size=1, max_size=3))
    def enqueue(self, specs: list[dict[str, Any]]) -> None:
        """Enqueue a batch with keys, priorities, delays and queues."""
        now = self.clock.now()
        batch = [
            make_record(
                now,
                queue=s["queue"],
                priority=s["priority"],
                key=s["key"],
                limit_key=s["limit_key"],
                run_at=self.clock.later(s["delay"]),
                max_retries=s["max_retries"],
                max_reclaims=s["max_reclaims"],
                args=[i],
                task_id=self._new_id(),
            )
            for i, s in enumerate(specs)
        ]
        expected = [self.model.enqueue(record) for record in batch]
        results = self._step(lambda b: b.enqueue(batch))
        expect_equal(len(results), len(batch), "enqueue", "number of results")
        for record, result, (task_id, created) in zip(batch, results, expected, strict=True):
            if result.created and not created:
                raise ContractViolation(
                    f"at most one active record per dedup key: enqueue stored a second record with "
                    f"key {record.key!r} while {task_id} holds it"
                )
            expect_equal(result.created, created, "enqueue", f"created flag for {record.id}")
            expect_equal(result.record.id, task_id, "enqueue", "id of the returned record")
        self._verify()

    @rule(
        worker=st.sampled_from(WORKERS),
        limit=st.integers(1, 3),
        queues=st.sampled_from(_QUEUE_FILTERS),
        lease=st.sampled_from((5.0, 30.0)),
    )
    def claim(self, worker: str, limit: int, queues: tuple[str, ...] | None, lease: float) -> None:
        """Claim by one of several workers (the queues' limits applied)."""
        now, until = self.clock.now(), self.clock.later(lease)
        due = self.model.due_order(queues, now)
        plan = self.model.plan_claim(due, now, limit)
        expected = plan.ids
        names = None if queues is None else list(queues)
        claimed = self._step(
            lambda b: b.claim(queues=names, worker_id=worker, limit=limit, now=now, lease_until=until)
        )
        ids = [r.id for r in claimed]
        expect(len(ids) <= limit, "claim limit", f"claim with limit={limit} returned {len(ids)} records")
        for record in claimed:
            self._check_claimable(record.id, worker, now)
            expect(
                queues is None or record.queue in queues,
                "claim queue filter",
                f"{record.id} is in {record.queue!r}",
            )
        expect(len(set(ids)) == len(ids), "no task held by two workers", f"one claim returned {ids}")
        self._check_limits(ids, plan, due, now, "claim")
        if ids != expected:
            if set(ids) == set(expected):
                raise ContractViolation(
                    f"claim order (priority, then enqueue order): got {ids}, expected {expected}"
                )
            missing = [i for i in expected if i not in ids]
            if len(ids) < len(expected):
                raise ContractViolation(f"no task lost: due records {missing} were not handed out by claim")
            raise ContractViolation(
                f"claim order (priority, then enqueue order): got {ids}, expected {expected}"
            )
        for record in claimed:
            self._accept_claim(record, worker, now, until)
        self.model.buckets.update(plan.buckets)
        self._verify()

    @precondition(lambda self: bool(self.model.records))
    @rule(data=st.data(), worker=st.sampled_from(WORKERS), lease=st.sampled_from((5.0, 30.0)))
    def claim_task(self, data: st.DataObject, worker: str, lease: float) -> None:
        """Claim one record by id, due or not (its queue's limit applied)."""
        task_id = data.draw(st.sampled_from(list(self.model.records)), label="task_id")
        now, until = self.clock.now(), self.clock.later(lease)
        claimable = self.model.records[task_id].status in WAITING_STATUSES
        plan = self.model.plan_claim([task_id] if claimable else [], now, 1)
        claimed = self._step(lambda b: b.claim_task(task_id, worker_id=worker, now=now, lease_until=until))
        if claimed is not None:
            self._check_claimable(task_id, worker, now, by_id=True)
            self._check_limits([task_id], plan, [task_id], now, "claim_task")
            self._accept_claim(claimed, worker, now, until)
            self.model.buckets.update(plan.buckets)
        elif claimable and plan.ids:
            raise ContractViolation(
                f"claim_task: {task_id} is claimable (and within its queue's limit) but claim_task "
                "returned None"
            )
        self._verify()

    def _check_claimable(self, task_id: UUID, worker: str, now: Any, *, by_id: bool = False) -> None:
        model = self.model.records.get(task_id)
        expect(model is not None, "claim", f"claim returned unknown record {task_id}")
        assert model is not None
        if model.status == "running":
            live = model.lease_expires_at is not None and model.lease_expires_at >= now
            raise ContractViolation(
                f"no task held by two workers: {task_id} is running under {model.worker_id}'s "
                f"{'live' if live else 'unreclaimed'} lease and was handed to {worker}"
            )
        if model.status in TERMINAL_STATUSES:
            raise ContractViolation(
                f"a terminal record never changes: claim handed out {model.status} {task_id}"
            )
        if not by_id and model.status == "scheduled" and model.run_at > now:
            raise ContractViolation(
                f"a delayed task is never claimed before it is due: {task_id} is due at "
                f"{model.run_at}, now is {now}"
            )

    def _accept_claim(self, record: TaskRecord, worker: str, now: Any, until: Any) -> None:
        model = self.model.records[record.id]
        lease_id = record.lease_id
        expect(isinstance(lease_id, str) and bool(lease_id), "claim", f"{record.id} has no lease_id")
        assert lease_id is not None
        expect(lease_id not in model.leases, "claim", f"{record.id} got a lease_id it had before")
        self.model.claim(record.id, lease_id=lease_id, worker_id=worker, now=now, until=until)
        check_record(record, model, now)
        self.held[worker].append((record.id, lease_id))

    def _holding(self) -> list[str]:
        return [worker for worker in WORKERS if self.held[worker]]

    @precondition(lambda self: bool(self._holding()))
    @rule(data=st.data(), extend=st.sampled_from((5.0, 30.0)), forget_lost=st.booleans())
    def heartbeat(self, data: st.DataObject, extend: float, forget_lost: bool) -> None:
        """Extend every lease a worker believes it holds (some may be lost)."""
        worker = data.draw(st.sampled_from(self._holding()), label="worker")
        leases = list(self.held[worker])
        until = self.clock.later(extend)
        expected = self.model.extend(leases, until)
        lost = self._step(lambda b: b.extend_leases(leases, until=until))
        for task_id in set(lost) - expected:
            raise ContractViolation(f"extend_leases: the live lease of {task_id} was reported lost")
        for task_id in expected - set(lost):
            raise ContractViolation(f"extend_leases: the lost lease of {task_id} was not reported")
        if forget_lost:
            self.held[worker] = [(t, lease) for t, lease in leases if t not in lost]
        self._verify()

    @precondition(lambda self: bool(self._holding()))
    @rule(data=st.data(), kinds=st.lists(st.sampled_from(_KINDS), min_size=1, max_size=2))
    def finish(self, data: st.DataObject, kinds: list[str]) -> None:
        """Report outcomes (complete, fail, retry now / later / in the past, release) for held leases."""
        worker = data.draw(st.sampled_from(self._holding()), label="worker")
        held = self.held[worker]
        now = self.clock.now()
        outcomes: list[Outcome] = []
        for kind in kinds:
            task_id, lease_id = data.draw(st.sampled_from(held), label="lease")
            outcomes.append(self._outcome(task_id, lease_id, kind))
        self.held[worker] = [pair for pair in held if pair not in {(o.task_id, o.lease_id) for o in outcomes}]
        applies = [self.model.finish(outcome, now) for outcome in outcomes]
        results = self._step(lambda b: b.finish(outcomes, now=now))
        expect_equal(len(results), len(outcomes), "finish", "number of results")
        for outcome, result, applied in zip(outcomes, results, applies, strict=True):
            if result is not None and not applied:
                raise ContractViolation(
                    f"finish applies only under the live lease: a {outcome.kind} of {outcome.task_id} "
                    f"under lost lease {outcome.lease_id} was applied"
                )
            if result is None and applied:
                raise ContractViolation(
                    f"finish: a {outcome.kind} of {outcome.task_id} under its live lease was rejected"
                )
            if result is not None:
                check_record(result, self.model.records[outcome.task_id], now)
        self._verify()
        self._check_waits(o.task_id for o in outcomes)

    def _outcome(self, task_id: UUID, lease_id: str, kind: str) -> Outcome:
        live = self.model.holds(task_id, lease_id)
        record = self.model.records.get(task_id)
        if (
            kind.startswith("retry")
            and live
            and record is not None
            and record.attempts > record.submitted.max_retries
        ):
            kind = "fail"  # the core never retries past max_retries
        if kind == "retry":
            return Outcome(
                task_id=task_id, lease_id=lease_id, kind="retry", error="boom", run_at=self.clock.now()
            )
        if kind == "retry_later":
            return Outcome(
                task_id=task_id, lease_id=lease_id, kind="retry", error="later", run_at=self.clock.later(3)
            )
        if kind == "retry_past":
            return Outcome(
                task_id=task_id,
                lease_id=lease_id,
                kind="retry",
                error="past",
                run_at=self.clock.now() - timedelta(seconds=1),
            )
        if kind == "complete":
            return Outcome(task_id=task_id, lease_id=lease_id, kind="complete", result={"done": str(task_id)})
        if kind == "fail":
            return Outcome(task_id=task_id, lease_id=lease_id, kind="fail", error="failed for good")
        return Outcome(task_id=task_id, lease_id=lease_id, kind="release")

    @rule(seconds=st.sampled_from((0.5, 1.0, 5.0, 31.0)))
    def advance_clock(self, seconds: float) -> None:
        """Let time pass (leases expire, delayed records become due)."""
        self.clock.advance(seconds)

    @rule()
    def reclaim_expired(self) -> None:
        """Return expired leases to the queue, or fail records past max_reclaims."""
        now = self.clock.now()
        expected = self.model.reclaim(now)
        changed = self._step(lambda b: b.reclaim_expired(now=now))
        ids = [r.id for r in changed]
        expect(len(set(ids)) == len(ids), "reclaim_expired", f"returned {ids}")
        expect_equal(set(ids), expected, "reclaim_expired", "the set of reclaimed records")
        for record in changed:
            check_record(record, self.model.records[record.id], now)
        self._verify()
        self._check_waits(ids)

    @rule(data=st.data(), unknown=st.sampled_from((False, False, False, True)))
    def cancel(self, data: st.DataObject, unknown: bool) -> None:
        """Cancel a record in any status (or an unknown id)."""
        known = [*self.model.records, *self.deleted]
        task_id = (
            data.draw(st.sampled_from(known), label="task_id") if known and not unknown else uuid.uuid4()
        )
        now = self.clock.now()
        before = self.terminal.get(task_id)
        held = self.model.records.get(task_id)
        if held is not None and held.status == "running" and held.worker_id in self.cancelled_running:
            self.cancelled_running[held.worker_id].add(task_id)
        expected = self.model.cancel(task_id, now)
        result = self._step(lambda b: b.cancel(task_id, now=now))
        if expected is None:
            expect(result is None, "cancel", f"cancel of unknown id {task_id} returned {result!r}")
        else:
            expect(result is not None, "no task lost", f"cancel of {task_id} returned None")
            assert result is not None
            if before is not None and result != before:
                raise ContractViolation(
                    f"a terminal record never changes: cancel changed {task_id} to {result!r}"
                )
            check_record(result, expected, now)
        self._verify()
        self._check_cancel_reports()
        self._check_waits((task_id,))

    def _check_waits(self, task_ids: Iterable[UUID]) -> None:
        """Wait for these records to finish (an active one for no time): what returns is the stored record.

        Called after the steps that finish records, with the ids they touched: it draws
        nothing, so the runs (and what they catch) stay the runs of the rules.
        """
        # a terminal, deleted or unknown record returns from the look at once: 30 s is never met
        waits = {
            task_id: 0.0 if task_id in self.model.records and self.model.finished(task_id) is None else 30.0
            for task_id in task_ids
        }

        async def wait_then_get() -> list[tuple[UUID, TaskRecord | None, TaskRecord | None]]:
            backend = self.backend
            assert backend is not None
            return [
                (task_id, await backend.wait_for_finish(task_id, timeout), await backend.get(task_id))
                for task_id, timeout in waits.items()
            ]

        rule = "wait_for_finish returns the stored terminal record"
        for task_id, returned, stored in self.portal.call(wait_then_get):
            check_finished(returned, task_id, stored)
            expected = self.model.finished(task_id)
            if returned is not None:
                where = (
                    "deleted" if task_id in self.deleted else "active" if waits[task_id] == 0 else "unknown"
                )
                expect(
                    expected is not None, rule, f"it returned {returned!r} for a record the model has {where}"
                )
                assert expected is not None
                check_record(returned, expected, self.clock.now())

    def _check_cancel_reports(self) -> None:
        """Ask each worker for its cancelled records (without waiting): only its own, cancelled running."""
        for worker in WORKERS:
            reported = self._step(lambda b, w=worker: b.wait_for_cancel(w, 0.0))  # type: ignore[misc]
            wrong = set(reported) - self.cancelled_running[worker]
            expect(
                not wrong,
                "wait_for_cancel",
                f"reported {sorted(map(str, wrong))} to {worker}, which ran none of them when cancelled",
            )

    @rule(data=st.data())
    def requeue(self, data: st.DataObject) -> None:
        """Requeue a record in any status: only failed and cancelled ones (keys permitting) change."""
        if not self.model.records:
            return
        task_id = data.draw(st.sampled_from(list(self.model.records)), label="task_id")
        now = self.clock.now()
        expected = self.model.requeue(task_id, now)
        assert expected is not None
        result = self._step(lambda b: b.requeue(task_id, now=now))
        expect(result is not None, "no task lost", f"requeue of {task_id} returned None")
        assert result is not None
        if result.status == "pending":
            self.terminal.pop(task_id, None)  # the one change a terminal record may take
        check_record(result, expected, now)
        self._verify()

    @rule(
        queues=st.sampled_from(_QUEUE_FILTERS),
        statuses=st.sampled_from(_STATUS_FILTERS),
        newest_first=st.booleans(),
        page=st.integers(1, 4),
    )
    def query_pages(
        self, queues: tuple[str, ...] | None, statuses: tuple[str, ...] | None, newest_first: bool, page: int
    ) -> None:
        """Page through a query: the pages together are the model's listing, in order, once."""
        first = RecordQuery(queues=queues, statuses=statuses, newest_first=newest_first, limit=page)  # type: ignore[arg-type]

        async def read_all(backend: QueueBackend) -> tuple[list[UUID], dict[UUID, str]]:
            ids: list[UUID] = []
            query = first
            while True:
                records = list(await backend.query(query))
                expect(len(records) <= page, "query", f"a page of limit {page} held {len(records)}")
                # a page that does not move past its position would be read forever
                again = {r.id for r in records} & set(ids)
                expect(not again, "query", f"records {again} listed again on a later page of {first!r}")
                ids.extend(r.id for r in records)
                # a record listed twice: stop here, a backend that repeats one would page forever
                expect(len(set(ids)) == len(ids), "query", f"a record came twice while paging {first!r}")
                if len(records) < page:
                    break
                query = msgspec.structs.replace(query, after=QueryPosition.of(records[-1]))
            return ids, await self._reported(backend)

        listed, reported = self._step(read_all)
        expected = self.model.listed(first, reported)
        expect_equal(listed, expected, "query", f"records listed by {first!r}")
        self._verify()

    @rule(
        queues=st.sampled_from(_QUEUE_FILTERS),
        statuses=st.sampled_from(_DELETE_FILTERS),
        newest_first=st.booleans(),
        limit=st.integers(1, 3),
        finished_before=st.sampled_from((None, None, None, 0.0, 5.0)),
    )
    def delete(
        self,
        queues: tuple[str, ...] | None,
        statuses: tuple[str, ...] | None,
        newest_first: bool,
        limit: int,
        finished_before: float | None,
    ) -> None:
        """Delete by filter (purge, or a retention sweep when ``finished_before`` is set)."""
        now = self.clock.now()
        query = RecordQuery(
            queues=queues,
            statuses=statuses,  # type: ignore[arg-type]
            newest_first=newest_first,
            limit=limit,
            finished_before=None if finished_before is None else now - timedelta(seconds=finished_before),
        )
        expected: list[UUID] = []

        async def delete(backend: QueueBackend) -> list[UUID]:
            expected.extend(self.model.delete(query, await self._reported(backend)))
            self.deleted.update(dict.fromkeys(expected))  # reloaded after the delete: each must be gone
            return list(await backend.delete(query))

        deleted = self._step(delete)
        for task_id in set(deleted) - set(expected):
            status = self.model.records[task_id].status if task_id in self.model.records else "unknown"
            if status == "running":
                raise ContractViolation(f"delete removed running record {task_id}: it belongs to its worker")
            raise ContractViolation(
                f"delete removed {status} record {task_id}, which {query!r} does not select"
            )
        expect_equal(deleted, expected, "delete", f"ids deleted by {query!r}")
        for task_id in deleted:
            self.terminal.pop(task_id, None)
        self._verify()

    @rule(queue=st.sampled_from(QUEUES), paused=st.booleans())
    def set_paused(self, queue: str, paused: bool) -> None:
        """Pause or resume a queue; claim skips paused queues."""
        self.model.set_paused(queue, paused=paused)

        async def pause(backend: QueueBackend) -> set[str]:
            await backend.set_paused(queue, paused=paused)
            return set(await backend.paused_queues())

        reported = self._step(pause)
        expect_equal(reported, self.model.paused, "set_paused", "paused_queues() after set_paused")
        self._verify()

    @rule(
        duty=st.sampled_from(("sweep", "other")),
        holder=st.sampled_from(WORKERS),
        turn=st.sampled_from((1.0, 10.0)),
    )
    def take_turn(self, duty: str, holder: str, turn: float) -> None:
        """Ask for a duty's turn: one live holder at a time."""
        now, until = self.clock.now(), self.clock.later(turn)
        expected = self.model.take_turn(duty, holder=holder, now=now, until=until)
        granted = self._step(lambda b: b.take_turn(duty, holder=holder, now=now, until=until))
        if granted and not expected:
            holder_now = self.model.turns[duty][0]
            raise ContractViolation(
                f"take_turn: {duty!r} was given to {holder} while {holder_now}'s turn is live until "
                f"{self.model.turns[duty][1]}"
            )
        expect_equal(granted, expected, "take_turn", f"whether {holder} got {duty!r} at {now}")
        self._verify()


def run_backend_machine(factory: BackendFactory, settings: hypothesis.settings | None) -> None:
    """Run the state machine against backends made by ``factory``.

    One event loop runs in a thread (an anyio blocking portal) for the whole run; every backend
    is created, opened, used and closed on it.

    Args:
        factory: Makes fresh backends and cleans up after them.
        settings: Hypothesis settings. ``None`` uses the loaded profile without a deadline and
            with the ``too_slow`` health check off (backends do I/O; their timing is not the
            contract's business).

    Raises:
        ContractViolation: When the backend breaks a rule (after hypothesis shrank the example).
    """
    if settings is None:
        current = hypothesis.settings()  # the loaded profile
        suppressed = list(current.suppress_health_check)
        if hypothesis.HealthCheck.too_slow not in suppressed:
            suppressed.append(hypothesis.HealthCheck.too_slow)
        settings = hypothesis.settings(current, deadline=None, suppress_health_check=suppressed)
    with start_blocking_portal() as portal:
        machine = type("QueueBackendMachine", (_BackendMachine,), {"factory": factory, "portal": portal})
        run_state_machine_as_test(machine, settings=settings)
