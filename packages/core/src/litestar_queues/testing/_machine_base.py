"""The plumbing of the contract's state machine: one backend, the model, and the checks after each step.

The rules live in subclasses: :mod:`._machine_schedules` (schedule states) and :mod:`._machine`
(records), so that each module stays about one concern.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

from hypothesis.stateful import RuleBasedStateMachine

from litestar_queues.testing._check import expect, expect_equal
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._compare import check_counts, check_store
from litestar_queues.testing._model import Model

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from anyio.from_thread import BlockingPortal

    from litestar_queues.models import ScheduleState, TaskRecord
    from litestar_queues.ports import QueueBackend

__all__ = ("QUEUES", "WORKERS", "BackendFactory", "MachineBase")

T = TypeVar("T")

QUEUES = ("default", "other")
WORKERS = ("w1", "w2", "w3")


class BackendFactory(Protocol):
    """What the machine needs from the contract: make a backend, and clean up after it."""

    async def make_backend(self) -> QueueBackend:
        """Return a fresh, empty, unopened backend."""
        ...

    async def teardown_backend(self, backend: QueueBackend) -> None:
        """Clean up after ``backend`` was closed."""
        ...


class MachineBase(RuleBasedStateMachine):
    """Opens one backend, runs operations on it through the portal, and checks the store after each."""

    factory: ClassVar[BackendFactory]
    portal: ClassVar[BlockingPortal]

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.model = Model()
        self.held: dict[str, list[tuple[UUID, str]]] = {w: [] for w in WORKERS}
        # records cancelled while running, per the worker that ran them: all wait_for_cancel may report
        self.cancelled_running: dict[str, set[UUID]] = {w: set() for w in WORKERS}
        self.terminal: dict[UUID, TaskRecord] = {}
        self.deleted: dict[UUID, None] = {}  # an ordered set: draws must replay alike
        self._ids = itertools.count(1)
        self._records: dict[UUID, TaskRecord | None] = {}
        self._gone: dict[UUID, TaskRecord | None] = {}
        self._counts: dict[str, dict[str, int]] = {}
        self._schedules: list[ScheduleState] = []
        self.backend: QueueBackend | None = None
        self.backend = self.portal.call(self._open)

    async def _open(self) -> QueueBackend:
        backend = await self.factory.make_backend()
        await backend.open()
        return backend

    async def _close(self) -> None:
        if self.backend is not None:
            try:
                await self.backend.close()
            finally:
                await self.factory.teardown_backend(self.backend)

    def teardown(self) -> None:
        """Close the backend through the portal."""
        self.portal.call(self._close)

    def _new_id(self) -> UUID:
        """A record id from a counter.

        A limited delete of records created at the same time picks by id, and hypothesis replays
        a run only when every choice repeats: random ids would make both differ between runs.
        """
        return uuid.UUID(int=next(self._ids))

    def _step(self, operation: Callable[[QueueBackend], Awaitable[T]]) -> T:
        """Run ``operation``, then load every known and deleted record, the counts and the schedules."""

        async def run() -> T:
            backend = self.backend
            assert backend is not None
            result = await operation(backend)
            self._records = {task_id: await backend.get(task_id) for task_id in self.model.records}
            self._gone = {task_id: await backend.get(task_id) for task_id in self.deleted}
            self._counts = dict(await backend.counts())
            self._schedules = list(await backend.schedule_states())
            return result

        return self.portal.call(run)

    def _verify(self) -> None:
        check_store(self._records, self.model, self.terminal, self.clock.now())
        check_counts(self._counts, self._records)
        for task_id, record in self._gone.items():
            expect(record is None, "delete", f"deleted record {task_id} came back as {record!r}")
        expect_equal(
            self._schedules,
            self.model.schedule_states(),
            "schedule states",
            "schedule_states() (sorted by name)",
        )

    async def _reported(self, backend: QueueBackend) -> dict[UUID, str]:
        """The status the backend reports for each due scheduled record (pending or scheduled).

        A backend may promote a due scheduled record to pending (check_record allows either);
        a status filter lists it by the status the backend reports.
        """
        now = self.clock.now()
        reported: dict[UUID, str] = {}
        for record in self.model.records.values():
            if record.status == "scheduled" and record.run_at <= now:
                stored = await backend.get(record.id)
                if stored is not None and stored.status in ("scheduled", "pending"):
                    reported[record.id] = stored.status
        return reported
