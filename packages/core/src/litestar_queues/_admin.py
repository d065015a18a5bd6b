"""What the operator commands of both CLIs print: ``list``, ``show``, ``retry``, ``cancel``.

``litestar-queues`` (argparse) and ``litestar queues`` (click) parse their own arguments and
call these, so the two print the same lines and apply the same rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from datetime import datetime

    from litestar_queues.models import TaskRecord
    from litestar_queues.service import QueueService

__all__ = ("ListFilters", "cancel_lines", "list_lines", "retry_lines", "show_lines")


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The filters of ``list`` (and of ``retry --failed`` / ``cancel`` by filter)."""

    queues: list[str] | None = None
    statuses: list[str] | None = None
    task_names: list[str] | None = None
    key: str | None = None
    oldest_first: bool = False
    limit: int = 50
    cursor: str | None = None

    @property
    def empty(self) -> bool:
        """Whether no filter narrows the selection (a destructive command then refuses)."""
        return not (self.queues or self.statuses or self.task_names or self.key)


def split(value: str | None) -> list[str] | None:
    """A comma-separated option as a list (``None`` when not given)."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def _row(record: TaskRecord) -> str:
    error = f"  {record.error.splitlines()[0][:80]}" if record.error else ""
    return (
        f"{record.id}  {record.status:<9}  {record.queue:<12}  {record.task_name:<28}  "
        f"{_when(record.created_at)}  runs={record.runs}{error}"
    )


async def list_lines(service: QueueService, filters: ListFilters, *, as_json: bool) -> list[str]:
    """One line per task of the page (newest first unless ``oldest_first``), then the next cursor."""
    page = await service.list_tasks(
        queues=filters.queues,
        statuses=filters.statuses,
        task_names=filters.task_names,
        key=filters.key,
        newest_first=not filters.oldest_first,
        limit=filters.limit,
        cursor=filters.cursor,
    )
    if as_json:
        records = [msgspec.to_builtins(handle.record) for handle in page.tasks]
        return [json.dumps({"tasks": records, "next_cursor": page.next_cursor}, sort_keys=True)]
    lines = [_row(handle.record) for handle in page.tasks] or ["no tasks match"]
    if page.next_cursor is not None:
        lines.append(f"more: --cursor {page.next_cursor}")
    return lines


async def show_lines(service: QueueService, task_id: str, *, as_json: bool) -> list[str]:
    """The whole record: fields, then every kept attempt with its traceback."""
    record = (await service.get_task(task_id)).record
    if as_json:
        return [json.dumps(msgspec.to_builtins(record), sort_keys=True)]
    fields: list[tuple[str, Any]] = [
        ("id", record.id),
        ("task", record.task_name),
        ("queue", record.queue),
        ("status", record.status),
        ("priority", record.priority),
        ("key", record.key),
        ("attempts", f"{record.attempts} of {record.max_retries + 1}"),
        ("runs", record.runs),
        ("reclaims", record.reclaims),
        ("created", _when(record.created_at)),
        ("due", _when(record.run_at)),
        ("started", _when(record.started_at)),
        ("finished", _when(record.finished_at)),
        ("worker", record.worker_id),
        ("args", json.dumps(record.args)),
        ("kwargs", json.dumps(record.kwargs, sort_keys=True)),
        ("metadata", json.dumps(record.metadata, sort_keys=True)),
        ("result", json.dumps(record.result)),
        ("error", record.error),
    ]
    lines = [f"{name:<9} {value if value is not None else '-'}" for name, value in fields]
    lines.append(f"history   {len(record.history)} attempt(s) kept")
    for attempt in record.history:
        lines.append(
            f"  run {attempt.run}: {attempt.verdict} on {attempt.worker_id or '-'} "
            f"{_when(attempt.started_at)} -> {_when(attempt.finished_at)}"
            + (f": {attempt.error}" if attempt.error else "")
        )
        if attempt.traceback:
            lines.extend(f"    {line}" for line in attempt.traceback.rstrip().splitlines())
    return lines


async def retry_lines(
    service: QueueService, task_id: str | None, filters: ListFilters, *, failed: bool
) -> list[str]:
    """Retry one task by id, or every failed task matching ``filters`` (``failed=True``).

    Raises:
        QueueConfigurationError: Neither or both of an id and ``--failed`` are given.
    """
    if (task_id is None) == (not failed):
        raise QueueConfigurationError("give a task id, or --failed (with --queue/--task to narrow it)")
    if task_id is not None:
        before = (await service.get_task(task_id)).status
        after = await service.retry(task_id)
        if before not in ("failed", "cancelled"):
            return [f"task {task_id} is already {after.status}: not retried again"]
        return [f"task {task_id} was {before}: requeued, now {after.status}"]
    retried = await service.retry_failed(queues=filters.queues, task_names=filters.task_names)
    return [f"requeued {len(retried)} failed task(s)"]


async def cancel_lines(service: QueueService, task_id: str | None, filters: ListFilters) -> list[str]:
    """Cancel one task by id, or every unfinished task matching ``filters`` (one filter at least).

    Raises:
        QueueConfigurationError: Neither or both of an id and filters are given.
    """
    if task_id is not None and not filters.empty:
        raise QueueConfigurationError("give a task id or filters (--queue, --status, --task), not both")
    if task_id is not None:
        return [f"task {task_id} is {(await service.cancel(task_id)).status}"]
    if filters.empty:
        raise QueueConfigurationError(
            "cancelling by filter needs at least one of --queue, --status, --task (nothing was cancelled)"
        )
    cancelled = await service.cancel_matching(
        queues=filters.queues, statuses=filters.statuses, task_names=filters.task_names
    )
    return [f"cancelled {len(cancelled)} task(s)"]
