"""``QueuedBackgroundTask``: enqueue a task after Litestar has sent the response."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.background_tasks import BackgroundTask

from litestar_queues._active import active_service
from litestar_queues.exceptions import NoActiveServiceError

if TYPE_CHECKING:
    from litestar_queues import QueueService, Task, TaskResult

__all__ = ("QueuedBackgroundTask",)


class QueuedBackgroundTask(BackgroundTask):
    """A Litestar background task that enqueues ``task`` once the response has been sent.

    It only stores the job: the queue's workers decide when it runs. The service is the one passed
    as ``service=``, else the active one that ``QueuePlugin`` opens in the app's lifespan, looked
    up when the background task runs.

    Args:
        task: The task (or its registered name) to enqueue.
        *args: Positional arguments of the task.
        service: The service to enqueue through (default: the active one).
        **kwargs: Keyword arguments of the task, and the enqueue overrides of
            :meth:`QueueService.enqueue` (``key``, ``queue``, ``priority``, ``run_after``, ...).

    Raises:
        NoActiveServiceError: No service was passed and none is open: ``QueuePlugin`` is not
            registered on the app (raised in the route, before the response is sent).
    """

    __slots__ = ("result", "service", "task")

    def __init__(
        self, task: Task[..., Any] | str, *args: Any, service: QueueService | None = None, **kwargs: Any
    ) -> None:
        if service is None:
            _require_active()
        super().__init__(self._enqueue, *args, **kwargs)
        self.task = task
        self.service = service
        self.result: TaskResult[Any] | None = None

    async def _enqueue(self, *args: Any, **kwargs: Any) -> None:
        service = self.service if self.service is not None else _require_active()
        self.result = await service.enqueue(self.task, *args, **kwargs)


def _require_active() -> QueueService:
    try:
        return active_service()
    except NoActiveServiceError as exc:
        raise NoActiveServiceError(
            "QueuedBackgroundTask found no open QueueService: register QueuePlugin on the app "
            "(Litestar(plugins=[QueuePlugin(QueueConfig(...))])) or pass service=queue_service"
        ) from exc
