"""Enqueue a task inside the caller's database transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.task import EnqueueOptions
from litestar_queues.task_result import TaskResult
from litestar_queues_sql.backend import SQLQueueBackend

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from litestar_queues.service import QueueService
    from litestar_queues.task import Task

__all__ = ("enqueue_in_transaction",)


async def enqueue_in_transaction(
    service: QueueService,
    connection: AsyncConnection | AsyncSession,
    task: Task[..., Any] | str,
    *args: Any,
    **kwargs: Any,
) -> TaskResult[Any]:
    """Enqueue ``task`` on ``connection``: it commits or rolls back with the caller's transaction.

    Takes the same overrides as :meth:`QueueService.enqueue <litestar_queues.QueueService.enqueue>`
    (``key``, ``queue``, ``priority``, ``retries``, ``timeout``, ``run_after``,
    ``execution_backend``, ``execution_profile``, ``metadata``); other keyword arguments go to
    the task. The ``immediate`` execution backend does not apply: the record is only stored.

    Args:
        service: An open service whose queue backend is a :class:`SQLQueueBackend` on the same
            database as ``connection``.
        connection: An ``AsyncConnection`` or ``AsyncSession`` inside a transaction.
        task: A task or a registered task name.
        *args: Positional arguments of the task.
        **kwargs: Overrides and keyword arguments of the task.

    Returns:
        The handle of the stored (or deduplicated) record.

    Raises:
        QueueConfigurationError: The service's backend is not a :class:`SQLQueueBackend`.
    """
    backend = service.backend
    if not isinstance(backend, SQLQueueBackend):
        raise QueueConfigurationError(
            f"enqueue_in_transaction needs a SQLQueueBackend, the service has {type(backend).__name__}"
        )
    options, task_kwargs = EnqueueOptions.split(kwargs)
    record = service.build_record(task, args, task_kwargs, options)
    (stored,) = await backend.enqueue_in(connection, [record])
    return TaskResult(backend, stored.record, created=stored.created)
