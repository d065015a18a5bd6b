"""The ``local`` execution backend: tasks run in the worker's own event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar_queues.ports import ExecutionBackend

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from litestar_queues.models import TaskRecord

__all__ = ("LocalExecutionBackend",)


class LocalExecutionBackend(ExecutionBackend):
    """Runs each task in the worker process.

    Async functions run on the worker's event loop, sync ones in its bounded thread pool. The
    default backend, and the one ``immediate`` uses at enqueue time.
    """

    __slots__ = ()

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    async def execute(self, record: TaskRecord, run_here: Callable[[], Awaitable[Any]]) -> Any:
        """Run the task here and return its result."""
        return await run_here()
