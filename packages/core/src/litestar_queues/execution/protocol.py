"""The remote-execution protocol: run one stored task somewhere else, exactly as a worker would.

Every placement other than the worker's own process (a child process, a Cloud Run Job container)
runs the same command::

    litestar-queues run-task --app MODULE:ATTR TASK_ID [--lease LEASE_ID]

It loads the application's :class:`~litestar_queues.QueueConfig` (or
:class:`~litestar_queues.QueueService`), takes the record, runs it with the worker's rules
(context, events, timeout, retry decision), writes the outcome under the lease and exits with an
:class:`ExitCode`. Because the rules live once, in :class:`~litestar_queues.attempts.AttemptDriver`,
behaviour cannot drift between placements.
"""

from __future__ import annotations

import enum
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uuid import UUID

    from litestar_queues.service import QueueService

__all__ = ("RECORDED_EXIT_CODES", "ExitCode", "run_task", "run_task_args")


class ExitCode(enum.IntEnum):
    """Exit status of ``litestar-queues run-task``.

    Any other status (``1`` for an unhandled Python error, a negative status or ``128 + n`` for a
    signal) means the command ended without writing an outcome.
    """

    COMPLETED = 0
    """The task returned; the record is ``completed``."""
    FAILED = 10
    """The task failed for good; the record is ``failed``."""
    RETRY = 11
    """The attempt failed; the record is ``scheduled`` (or ``pending``) for another attempt."""
    LEASE_LOST = 12
    """The lease was not (or no longer) held: cancelled, reclaimed or finished elsewhere."""
    NOT_CLAIMABLE = 13
    """No record has that id, or (without ``--lease``) it is not pending or scheduled, or its
    queue's limit holds it back (it stays in its queue for a worker)."""
    USAGE = 64
    """Bad arguments, or the application could not be loaded."""


RECORDED_EXIT_CODES: frozenset[int] = frozenset(
    {ExitCode.COMPLETED, ExitCode.FAILED, ExitCode.RETRY, ExitCode.LEASE_LOST, ExitCode.NOT_CLAIMABLE}
)
"""Statuses after which there is nothing left for the dispatcher to report."""

_EXIT_FOR_KIND = {"complete": ExitCode.COMPLETED, "fail": ExitCode.FAILED, "retry": ExitCode.RETRY}


def run_task_args(
    app: str,
    task_id: UUID | str,
    *,
    lease_id: str | None = None,
    worker_id: str | None = None,
    memory_limit_mb: int | None = None,
    exit_zero_when_recorded: bool = False,
) -> list[str]:
    """Build the arguments of ``litestar-queues run-task`` (without the program itself).

    Args:
        app: ``MODULE:ATTR`` of the application's ``QueueConfig`` or ``QueueService``.
        task_id: The record to run.
        lease_id: Adopt the record already claimed under this lease (the dispatcher keeps the
            lease alive); without it the command claims the record itself.
        worker_id: Identity in the record and events (default: the claiming worker's).
        memory_limit_mb: Address-space limit the command sets on its own process.
        exit_zero_when_recorded: Exit 0 whenever nothing is left to report (for platforms that
            retry containers that exit non-zero).

    Returns:
        The argument list.
    """
    # OPTION=VALUE keeps values that start with "-" from being read as options
    args = ["run-task", f"--app={app}", str(task_id)]
    if lease_id is not None:
        args.append(f"--lease={lease_id}")
    if worker_id is not None:
        args.append(f"--worker-id={worker_id}")
    if memory_limit_mb is not None:
        args.append(f"--memory-limit-mb={memory_limit_mb}")
    if exit_zero_when_recorded:
        args.append("--exit-zero-when-recorded")
    return args


async def run_task(
    service: QueueService, task_id: UUID, *, lease_id: str | None = None, worker_id: str | None = None
) -> ExitCode:
    """Run one stored task in this process and write its outcome (the body of ``run-task``).

    With ``lease_id`` the record must be running under that lease (the dispatcher claimed it
    and keeps the lease alive); without it the record is claimed here by id. While the task runs
    this process extends the lease too and cancels the task when the lease is lost.

    Args:
        service: An open service for the application's configuration.
        task_id: The record to run.
        lease_id: The lease to adopt.
        worker_id: Identity in the record and events.

    Returns:
        What happened, as the command's exit status.
    """
    attempts = service.attempts
    claimer = worker_id or f"run-task-{os.getpid()}"
    record = await attempts.adopt(task_id, lease_id=lease_id, worker_id=claimer)
    if isinstance(record, ExitCode):
        return record
    attempt = await attempts.drive(record, worker_id or record.worker_id, here=True)
    if attempt.lease_lost or attempt.outcome is None:
        return ExitCode.LEASE_LOST
    return _EXIT_FOR_KIND[attempt.outcome.kind]
