"""The error the contract kit raises, and small helpers to build records and compare them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar_queues.models import TaskRecord

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

__all__ = ("ContractViolation", "check_finished", "expect", "expect_equal", "make_record", "schedule_key")


class ContractViolation(AssertionError):
    """A queue backend broke a rule of the :class:`~litestar_queues.ports.QueueBackend` port.

    The message starts with the rule that was broken (for example ``"claim order"``), followed
    by what the backend did and what the contract expected.
    """


def expect(condition: bool, rule: str, detail: str) -> None:
    """Raise :class:`ContractViolation` for ``rule`` unless ``condition`` holds."""
    if not condition:
        raise ContractViolation(f"{rule}: {detail}")


def expect_equal(actual: Any, expected: Any, rule: str, what: str) -> None:
    """Raise :class:`ContractViolation` for ``rule`` unless ``actual == expected``."""
    if actual != expected:
        raise ContractViolation(f"{rule}: {what} is {actual!r}, expected {expected!r}")


def check_finished(returned: TaskRecord | None, task_id: UUID, stored: TaskRecord | None) -> None:
    """Check what ``wait_for_finish(task_id, ...)`` returned against what ``get`` returned after it.

    ``None`` is always allowed (the caller then reads the record); a record must be the record
    ``task_id``, terminal, and equal to the stored one.
    """
    if returned is None:
        return
    rule = "wait_for_finish returns the stored terminal record"
    expect(returned.id == task_id, rule, f"waiting for {task_id} returned the record {returned.id}")
    expect(returned.is_terminal, rule, f"it returned {task_id} while {returned.status}")
    expect_equal(returned, stored, rule, f"the record returned for {task_id} (the second: what get returns)")


def make_record(
    now: datetime,
    *,
    queue: str = "default",
    priority: int = 0,
    key: str | None = None,
    limit_key: str | None = None,
    run_at: datetime | None = None,
    max_retries: int = 0,
    max_reclaims: int = 3,
    task_name: str = "contract.task",
    args: list[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    task_id: UUID | None = None,
) -> TaskRecord:
    """Build a new record the way the core does at enqueue.

    The status is ``scheduled`` when ``run_at`` is after ``now``, else ``pending``.

    Args:
        now: The enqueue time (``created_at``, and ``run_at`` unless given).
        queue: Queue name.
        priority: Higher runs first.
        key: Dedup key.
        limit_key: Partition key of the queue's limit.
        run_at: When the record becomes due.
        max_retries: Retries allowed after the first attempt.
        max_reclaims: Expired leases tolerated before the record fails.
        task_name: Registered task name (the backend does not interpret it).
        args: Positional arguments as JSON values.
        kwargs: Keyword arguments as JSON values.
        metadata: Free JSON metadata.
        task_id: The record's id (a new random one when ``None``).

    Returns:
        A fresh record.
    """
    due = now if run_at is None else run_at
    return TaskRecord(
        id=uuid.uuid4() if task_id is None else task_id,
        task_name=task_name,
        queue=queue,
        priority=priority,
        args=[] if args is None else args,
        kwargs={} if kwargs is None else kwargs,
        key=key,
        limit_key=limit_key,
        status="scheduled" if due > now else "pending",
        max_retries=max_retries,
        max_reclaims=max_reclaims,
        metadata={} if metadata is None else metadata,
        created_at=now,
        run_at=due,
    )


def schedule_key(name: str, due: datetime) -> str:
    """The dedup key of the record the schedule ``name`` enqueues for the due time ``due``."""
    return f"schedule:{name}:{due.isoformat()}"
