"""The handle returned by enqueue: the last known state of one task record."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio

from litestar_queues.exceptions import TaskNotFoundError

if TYPE_CHECKING:
    from uuid import UUID

    from litestar_queues.models import TaskRecord, TaskStatus
    from litestar_queues.ports import QueueBackend

__all__ = ("TaskResult",)

R = TypeVar("R")

_SAFETY_WAKE = 5.0
"""Longest single wait on the backend's finish signal before the record is read again."""


class TaskResult(Generic[R]):
    """The last known state of a task record.

    The handle caches the record; :meth:`refresh` reloads it and :meth:`wait` blocks until the
    task is terminal, waking on the backend's finish signal rather than polling on a timer.

    Attributes:
        created: ``False`` when enqueue found an active record with the same dedup key and
            returned that one instead of storing a new one.
    """

    __slots__ = ("_backend", "_record", "created")

    def __init__(self, backend: QueueBackend, record: TaskRecord, *, created: bool = True) -> None:
        self._backend = backend
        self._record = record
        self.created = created

    def __repr__(self) -> str:
        return f"<TaskResult {self.id} {self.task_name!r} {self.status}>"

    @property
    def id(self) -> UUID:
        """The record's id."""
        return self._record.id

    @property
    def task_name(self) -> str:
        """The registered task name."""
        return self._record.task_name

    @property
    def status(self) -> TaskStatus:
        """The last known status."""
        return self._record.status

    @property
    def result(self) -> Any:
        """The task's return value once completed (``None`` before)."""
        return self._record.result

    @property
    def error(self) -> str | None:
        """Text of the last failure."""
        return self._record.error

    @property
    def record(self) -> TaskRecord:
        """The whole stored record as last read."""
        return self._record

    @property
    def is_terminal(self) -> bool:
        """Whether the last known status is completed, failed or cancelled."""
        return self._record.is_terminal

    async def refresh(self) -> TaskResult[R]:
        """Reload the record from the backend and return this handle.

        A finished record that the backend no longer keeps (its retention ended) stays as last
        read.

        Raises:
            TaskNotFoundError: The record is gone while it was not finished: it was moved aside
                as malformed (see the backend's dead letters) or deleted.
        """
        record = await self._backend.get(self._record.id)
        if record is not None:
            self._record = record
        elif not self._record.is_terminal:
            raise TaskNotFoundError(
                self._record.id,
                detail="it was moved aside as malformed (see the backend's dead letters) or deleted "
                f"while {self._record.status}",
            )
        return self

    async def wait(self, timeout: float | None = None) -> TaskResult[R]:
        """Wait until the task is terminal and return this handle.

        Each round asks the backend's ``wait_for_finish`` first, whose own look at the stored
        record covers a task finished already; the record it hands back (a terminal one, from
        that look or from the finish notification) is taken as is. Only when it hands back none
        (``None``: it may have changed) is the record read again.

        Args:
            timeout: Seconds to wait at most (``None``: no limit).

        Raises:
            TimeoutError: The task was not terminal in time.
            TaskNotFoundError: The record is gone while it was not finished (see :meth:`refresh`).
        """
        deadline = math.inf if timeout is None else anyio.current_time() + timeout
        while True:
            remaining = deadline - anyio.current_time()
            if remaining > 0:
                finished = await self._backend.wait_for_finish(self._record.id, min(remaining, _SAFETY_WAKE))
                # a backend that breaks the port (another record, one not terminal) costs a read
                if finished is not None and finished.is_terminal and finished.id == self._record.id:
                    self._record = finished
                    return self
            await self.refresh()
            if self._record.is_terminal:
                return self
            if deadline - anyio.current_time() <= 0:
                raise TimeoutError(f"task {self.id} is still {self.status} after {timeout} s")
