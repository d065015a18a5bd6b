"""Compare what a backend stores with the reference model, naming the rule that is broken."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues.models import ACTIVE_STATUSES, TERMINAL_STATUSES
from litestar_queues.testing._check import ContractViolation, expect, expect_equal

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from uuid import UUID

    from litestar_queues.models import TaskRecord
    from litestar_queues.testing._model import Model, ModelRecord

__all__ = ("check_counts", "check_record", "check_store")

_PAYLOAD_FIELDS = (
    "task_name",
    "queue",
    "priority",
    "args",
    "kwargs",
    "key",
    "limit_key",
    "max_retries",
    "max_reclaims",
    "timeout",
    "metadata",
    "execution_backend",
    "execution_profile",
    "created_at",
)


def check_record(actual: TaskRecord, model: ModelRecord, now: datetime) -> None:
    """Check one stored record against the model's view of it.

    Args:
        actual: The record as the backend returns it.
        model: What the reference model expects.
        now: The current time of the run (due scheduled records may be reported as pending).

    Raises:
        ContractViolation: When a field differs from what the rules decide.
    """
    where = f"record {model.id} ({model.status} in the model)"
    expect_equal(actual.id, model.id, "record identity", f"id of {where}")
    for name in _PAYLOAD_FIELDS:
        expect_equal(
            getattr(actual, name), getattr(model.submitted, name), "stored as given", f"{name} of {where}"
        )
    allowed = {model.status}
    if model.status == "scheduled" and model.run_at <= now:
        allowed.add("pending")
    expect(actual.status in allowed, "status", f"{where} has status {actual.status!r}")
    attempts = {model.attempts} if model.alt_attempts is None else {model.attempts, model.alt_attempts}
    expect(
        actual.attempts in attempts,
        "attempts",
        f"{where} has attempts={actual.attempts}, expected {attempts}",
    )
    expect_equal(actual.runs, model.runs, "runs", f"runs of {where}")
    expect_equal(actual.reclaims, model.reclaims, "reclaims", f"reclaims of {where}")
    if model.status == "scheduled":
        expect_equal(actual.run_at, model.run_at, "run_at", f"run_at of {where}")
    if model.status == "running":
        expect_equal(actual.lease_id, model.lease_id, "lease", f"lease_id of {where}")
        expect_equal(actual.lease_expires_at, model.lease_expires_at, "lease", f"lease_expires_at of {where}")
        expect_equal(actual.worker_id, model.worker_id, "lease", f"worker_id of {where}")
        expect_equal(actual.started_at, model.started_at, "claim", f"started_at of {where}")
    else:
        expect_equal(actual.lease_id, None, "lease fields cleared when not running", f"lease_id of {where}")
        expect_equal(
            actual.lease_expires_at,
            None,
            "lease fields cleared when not running",
            f"lease_expires_at of {where}",
        )
    expect_equal(actual.finished_at, model.finished_at, "finished_at", f"finished_at of {where}")
    if model.status == "completed":
        expect_equal(actual.result, model.result, "complete", f"result of {where}")
    if model.any_error:
        expect(bool(actual.error), "reclaim", f"{where} has no error text after its lease expired")
    elif model.status in ("failed", "scheduled", "pending") and model.error is not None:
        expect_equal(actual.error, model.error, "error", f"error of {where}")


def check_store(
    actual: Mapping[UUID, TaskRecord | None],
    model: Model,
    terminal: dict[UUID, TaskRecord],
    now: datetime,
) -> None:
    """Check every invariant of the store, then every record against the model.

    Args:
        actual: Every record id the model knows, mapped to what the backend's ``get`` returned.
        model: The reference model.
        terminal: Records seen terminal so far (filled in by this call); they must never change.
        now: The current time of the run.

    Raises:
        ContractViolation: Naming the first invariant that is broken.
    """
    holders: dict[str, UUID] = {}
    for task_id, record in actual.items():
        expect(record is not None, "no task lost", f"record {task_id} can no longer be loaded")
        assert record is not None  # for the type checker; `expect` raised otherwise
        expect(
            record.status in ACTIVE_STATUSES or record.status in TERMINAL_STATUSES,
            "no task lost",
            f"record {task_id} has unknown status {record.status!r}",
        )
        seen = terminal.get(task_id)
        if seen is not None and record != seen:
            raise ContractViolation(
                f"a terminal record never changes: {task_id} was {seen.status}, now {record!r}"
            )
        if record.key is not None and record.status in ACTIVE_STATUSES:
            other = holders.setdefault(record.key, task_id)
            expect(
                other == task_id,
                "at most one active record per dedup key",
                f"{other} and {task_id} both hold key {record.key!r}",
            )
        expect(
            record.attempts <= record.max_retries + 1,
            "attempts never exceed retries + 1",
            f"record {task_id} has attempts={record.attempts} with max_retries={record.max_retries}",
        )
    for task_id, record in actual.items():
        assert record is not None
        check_record(record, model.records[task_id], now)
        if record.status in TERMINAL_STATUSES:
            terminal.setdefault(task_id, record)


def check_counts(counts: Mapping[str, Mapping[str, int]], records: Mapping[UUID, TaskRecord | None]) -> None:
    """Check that ``counts()`` agrees with the records ``get`` returns (zero counts may be left out)."""
    expected: dict[str, dict[str, int]] = {}
    for record in records.values():
        if record is not None:
            per_queue = expected.setdefault(record.queue, {})
            per_queue[record.status] = per_queue.get(record.status, 0) + 1
    reported = {
        queue: {status: n for status, n in per_status.items() if n}
        for queue, per_status in counts.items()
        if any(per_status.values())
    }
    expect_equal(reported, expected, "counts", "counts()")
