"""An observer that keeps every notification: for tests, yours and ours."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar_queues.observability.observer import QueueObserver

if TYPE_CHECKING:
    from litestar_queues.models import Outcome, TaskRecord

__all__ = ("Observation", "RecordingObserver")


@dataclass(frozen=True, slots=True)
class Observation:
    """One notification an observer received.

    Attributes:
        hook: The method called: ``enqueuing``, ``enqueued``, ``started``, ``finished``,
            ``reclaimed`` or ``cancelled``.
        task_name: The record's task name.
        task_id: The record's id (as a string).
        details: The keyword arguments of the call (``created``, ``lag``, ``outcome``, ...).
    """

    hook: str
    task_name: str
    task_id: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        """For ``finished``: the outcome kind, or ``None`` when the run stopped without one."""
        outcome: Outcome | None = self.details.get("outcome")
        return outcome.kind if outcome is not None else None


class RecordingObserver(QueueObserver):
    """Keeps every notification in order, for tests.

    Attributes:
        observations: Notifications in the order they arrived.
    """

    def __init__(self) -> None:
        self.observations: list[Observation] = []

    def _keep(self, hook: str, record: TaskRecord, **details: Any) -> None:
        self.observations.append(Observation(hook, record.task_name, str(record.id), details))

    def hooks(self, task_id: object | None = None) -> list[str]:
        """The hooks called, in order (of one task when ``task_id`` is given)."""
        key = None if task_id is None else str(task_id)
        return [o.hook for o in self.observations if key is None or o.task_id == key]

    def of(self, hook: str) -> list[Observation]:
        """The notifications of one hook, in order."""
        return [o for o in self.observations if o.hook == hook]

    def enqueuing(self, record: TaskRecord) -> None:
        """Keep it."""
        self._keep("enqueuing", record)

    def enqueued(self, record: TaskRecord, *, created: bool, error: BaseException | None) -> None:
        """Keep it."""
        self._keep("enqueued", record, created=created, error=error)

    def started(self, record: TaskRecord, *, worker_id: str | None, lag: float) -> None:
        """Keep it."""
        self._keep("started", record, worker_id=worker_id, lag=lag, attempt=record.attempts)

    def finished(
        self, record: TaskRecord, *, outcome: Outcome | None, error: BaseException | None, duration: float
    ) -> None:
        """Keep it."""
        self._keep("finished", record, outcome=outcome, error=error, duration=duration)

    def reclaimed(self, record: TaskRecord) -> None:
        """Keep it."""
        self._keep("reclaimed", record, status=record.status)

    def cancelled(self, record: TaskRecord) -> None:
        """Keep it."""
        self._keep("cancelled", record)
