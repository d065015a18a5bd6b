"""The process task registry: the only tasks a worker in this process may run."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from litestar_queues.exceptions import TaskRegistrationError, UnknownTaskError

if TYPE_CHECKING:
    from litestar_queues.schedules.definition import Schedule
    from litestar_queues.task import Task

__all__ = ("TaskRegistry", "default_registry")


class TaskRegistry:
    """Maps task names to :class:`~litestar_queues.task.Task` objects.

    A worker looks names read from the queue up here and nowhere else: nothing read from a queue
    can make it import or call anything that was not registered in its process.
    """

    __slots__ = ("_lock", "_tasks")

    def __init__(self) -> None:
        self._tasks: dict[str, Task[..., Any]] = {}
        self._lock = threading.Lock()

    def register(self, task: Task[..., Any]) -> None:
        """Register ``task`` under its name.

        Registering the same function again under the same name is allowed (a module imported
        twice); a different function under a taken name is an error.

        Raises:
            TaskRegistrationError: The name is taken by a different function.
        """
        with self._lock:
            existing = self._tasks.get(task.name)
            if existing is not None and not _same_function(existing.fn, task.fn):
                raise TaskRegistrationError(
                    f"task name {task.name!r} is already registered to "
                    f"{existing.fn.__module__}.{existing.fn.__qualname__}"
                )
            self._tasks[task.name] = task

    def unregister(self, name: str) -> None:
        """Remove a registration (for tests)."""
        with self._lock:
            self._tasks.pop(name, None)

    def get(self, name: str) -> Task[..., Any]:
        """Return the task registered under ``name``.

        Raises:
            UnknownTaskError: No task has that name.
        """
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTaskError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._tasks)

    def schedules(self) -> list[Schedule]:
        """The schedules declared on registered tasks (``@task(cron=...)``), sorted by name."""
        with self._lock:
            declared = [t.schedule for t in self._tasks.values() if t.schedule is not None]
        return sorted(declared, key=lambda schedule: schedule.name)


def _same_function(a: Any, b: Any) -> bool:
    return a is b or (
        getattr(a, "__module__", None) == getattr(b, "__module__", None)
        and getattr(a, "__qualname__", None) == getattr(b, "__qualname__", None)
    )


default_registry = TaskRegistry()
"""The registry :func:`~litestar_queues.task` registers into."""
