"""What the queues page shows, read through the service: counts, pause, limits, lag, throughput, workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from litestar_queues.models import ALL_STATUSES

if TYPE_CHECKING:
    from datetime import datetime

    from litestar_queues import QueueService
    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import TaskRecord, WorkerInfo

__all__ = ("LAG_SAMPLE", "RUNNING_SHOWN", "WINDOW", "Overview", "QueueRow", "WorkerRow", "read_overview")

WINDOW = timedelta(hours=1)
"""The window of throughput and failure rate."""

LAG_SAMPLE = 20
"""Oldest pending tasks read per queue to find the one due longest ago."""

RUNNING_SHOWN = 200
"""Running tasks listed at most (grouped by worker)."""


@dataclass(slots=True)
class QueueRow:
    """One queue on the queues page.

    Attributes:
        name: The queue's name.
        counts: Tasks per status (every status present, 0 when none).
        paused: Whether workers claim nothing from it now.
        lag: How long the oldest due pending task has waited (``None``: none waits).
        finished: Tasks finished in the window per status (completed, failed, cancelled).
        limit: The queue's global limit (``None``: none), see ``docs/limits.md``.
    """

    name: str
    counts: dict[str, int]
    paused: bool
    lag: timedelta | None = None
    finished: dict[str, int] = field(default_factory=dict)
    limit: QueueLimit | None = None

    @property
    def throughput(self) -> int:
        """Tasks completed in the window."""
        return self.finished.get("completed", 0)

    @property
    def failure_rate(self) -> float | None:
        """Failed / (completed + failed) in the window, as a percent (``None``: nothing finished)."""
        done = self.finished.get("completed", 0) + self.finished.get("failed", 0)
        return None if not done else 100.0 * self.finished.get("failed", 0) / done


@dataclass(slots=True)
class WorkerRow:
    """One live worker and the tasks it runs.

    Attributes:
        info: The worker's presence (``service.workers()``), or ``None`` for tasks whose worker
            is not registered (a run without a worker, or a worker that just stopped).
        worker_id: The worker's id.
        tasks: The running tasks it holds.
    """

    info: WorkerInfo | None
    worker_id: str
    tasks: list[TaskRecord] = field(default_factory=list)


@dataclass(slots=True)
class Overview:
    """Everything the queues page shows, read at one time.

    Attributes:
        now: When it was read.
        queues: One row per queue, by name.
        workers: Live workers with their running tasks; then running tasks of unknown workers.
        running: Running tasks listed (at most :data:`RUNNING_SHOWN`).
        running_total: Running tasks in all.
        window: The window of the finished counts.
    """

    now: datetime
    queues: list[QueueRow]
    workers: list[WorkerRow]
    running: int
    running_total: int
    window: timedelta = WINDOW


async def _lag(service: QueueService, queue: str, now: datetime) -> timedelta | None:
    page = await service.list_tasks(
        queues=[queue], statuses=["pending"], newest_first=False, limit=LAG_SAMPLE
    )
    due = [handle.record.run_at for handle in page.tasks if handle.record.run_at <= now]
    return max(timedelta(0), now - min(due)) if due else None


async def read_overview(service: QueueService) -> Overview:
    """Read the queues page's data through ``service``."""
    now = service.config.clock.now()
    stats = await service.stats()
    finished = await service.finished_counts(since=now - WINDOW, window=WINDOW)
    names = sorted(set(stats.queues) | set(stats.paused) | set(finished) | set(stats.limits))
    rows = []
    for name in names:
        counts: dict[str, int] = {
            status: stats.queues.get(name, {}).get(status, 0) for status in ALL_STATUSES
        }
        lag = await _lag(service, name, now) if counts["pending"] else None
        finished_here = dict(finished.get(name, {}))
        rows.append(QueueRow(name, counts, name in stats.paused, lag, finished_here, stats.limits.get(name)))
    running = await service.list_tasks(statuses=["running"], newest_first=False, limit=RUNNING_SHOWN)
    workers = await _workers(service, [handle.record for handle in running.tasks])
    return Overview(
        now=now,
        queues=rows,
        workers=workers,
        running=len(running.tasks),
        running_total=stats.count("running"),
    )


async def _workers(service: QueueService, running: list[TaskRecord]) -> list[WorkerRow]:
    rows = {info.worker_id: WorkerRow(info, info.worker_id) for info in await service.workers()}
    for record in running:
        worker_id = record.worker_id or "-"
        row = rows.get(worker_id)
        if row is None:
            row = rows[worker_id] = WorkerRow(None, worker_id)
        row.tasks.append(record)
    known = sorted((r for r in rows.values() if r.info is not None), key=lambda r: r.worker_id)
    unknown = sorted((r for r in rows.values() if r.info is None), key=lambda r: r.worker_id)
    return known + unknown
