"""What the operator commands of both CLIs print (status, workers, list, show, retry, purge, schedules...).

``litestar-queues`` (argparse) and ``litestar queues`` (click) parse their own arguments and
call these, so the two print the same lines and apply the same rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from litestar_queues._admin_limits import limit_summary
from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import TaskRecord, WorkerInfo
    from litestar_queues.schedules.operations import ScheduleInfo
    from litestar_queues.service import QueueService

__all__ = (
    "ListFilters",
    "cancel_lines",
    "list_lines",
    "parse_age",
    "pause_lines",
    "prune_lines",
    "purge_lines",
    "purge_question",
    "retry_lines",
    "schedule_action_lines",
    "schedules_lines",
    "show_lines",
    "status_lines",
    "status_output",
    "workers_lines",
)

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_FINISHED = ("completed", "failed", "cancelled")
_SCHEDULE_ACTIONS = ("pause", "resume", "delete")
_PERIOD_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


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


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell."""
    rows = list(rows)
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def status_lines(
    counts: Mapping[str, Mapping[str, int]],
    paused: Iterable[str] = (),
    finished: Mapping[str, Mapping[str, int]] | None = None,
    limits: Mapping[str, QueueLimit] | None = None,
) -> list[str]:
    """The ``status`` table: one line per queue and status, or ``no tasks``; paused queues named.

    With ``finished`` (:meth:`QueueService.finished_counts <litestar_queues.QueueService.finished_counts>`
    over the last hour), a second table gives each queue's completed and failed tasks of that hour.
    With ``limits``, each queue's limit is named last.
    """
    paused = sorted(paused)
    lines = ["no tasks"]
    if counts:
        width = max(len("queue"), *(len(q) for q in counts))
        lines = [f"{'queue':<{width}}  {'status':<10}  count"]
        for queue in sorted(counts):
            mark = "  (paused)" if queue in paused else ""
            for status, count in sorted(counts[queue].items()):
                lines.append(f"{queue:<{width}}  {status:<10}  {count}{mark}")
    if paused:
        lines.append(f"paused queues: {', '.join(paused)}")
    if finished is not None and (counts or finished):
        hour = {queue: finished.get(queue, {}) for queue in sorted({*counts, *finished})}
        rows = [(q, str(per.get("completed", 0)), str(per.get("failed", 0))) for q, per in hour.items()]
        lines += ["", "finished in the last hour:", *_table(("queue", "completed", "failed"), rows)]
    if limits:
        lines += ["", *limit_summary(limits)]
    return lines


async def status_output(service: QueueService, *, as_json: bool) -> list[str]:
    """``status``: the counts per queue and status (``--json``: only those), then the last hour's finishes."""
    stats = await service.stats()
    if as_json:
        return [json.dumps(stats.queues, sort_keys=True)]
    return status_lines(stats.queues, stats.paused, await service.finished_counts(), stats.limits)


def _age(seconds: float) -> str:
    """A duration in its two largest units: ``45s``, ``12m05s``, ``3h07m``, ``2d04h``."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02}h"
    if hours:
        return f"{hours}h{minutes:02}m"
    return f"{minutes}m{secs:02}s" if minutes else f"{secs}s"


def _worker_json(info: WorkerInfo) -> dict[str, Any]:
    described: dict[str, Any] = msgspec.to_builtins(info)
    return described


async def workers_lines(service: QueueService, *, as_json: bool) -> list[str]:
    """One row per live worker: id, host, pid, queues, concurrency, running, age, stopping."""
    workers = await service.workers()
    if as_json:
        return [json.dumps([_worker_json(info) for info in workers], sort_keys=True)]
    if not workers:
        return ["no live workers"]
    now = service.config.clock.now()
    header = ("id", "host", "pid", "queues", "concurrency", "running", "age", "stopping")
    rows = [
        (
            info.worker_id,
            info.hostname,
            str(info.pid),
            ",".join(info.queues) if info.queues is not None else "(all)",
            str(info.concurrency),
            str(info.running),
            _age((now - info.started_at).total_seconds()),
            "yes" if info.stopping else "no",
        )
        for info in workers
    ]
    busy = sum(info.running for info in workers)
    capacity = sum(info.concurrency for info in workers)
    return [*_table(header, rows), f"{len(workers)} live worker(s), running {busy} of {capacity} task slots"]


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
        ("limit key", record.limit_key),
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
    if not record.history and record.status == "completed":
        lines.append("history   none kept: completed at its first run (see worker, started, finished)")
    else:
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


def parse_age(value: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``7d``, ``2w`` or plain seconds, as a timedelta.

    Raises:
        QueueConfigurationError: The text is not such an age.
    """
    match = _AGE.match(value)
    if match is None or float(match.group(1)) <= 0:
        raise QueueConfigurationError(f"--older-than takes an age such as 90s, 15m, 12h or 7d, got {value!r}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _purge_statuses(filters: ListFilters) -> list[str]:
    if not filters.statuses:
        raise QueueConfigurationError(
            "purge needs --status (for example --status completed,failed); nothing was deleted"
        )
    if filters.key is not None:
        raise QueueConfigurationError("purge does not filter by --key; nothing was deleted")
    return filters.statuses


def purge_question(filters: ListFilters, older_than: str | None) -> str:
    """The confirmation question ``purge`` asks before deleting (checks the filters first)."""
    statuses = _purge_statuses(filters)
    if older_than is not None:
        parse_age(older_than)
    scope = [f"status {','.join(statuses)}"]
    if filters.queues:
        scope.append(f"queue {','.join(filters.queues)}")
    if filters.task_names:
        scope.append(f"task {','.join(filters.task_names)}")
    if older_than is not None:
        scope.append(f"older than {older_than}")
    return f"Delete every task with {', '.join(scope)}, for good?"


async def purge_lines(service: QueueService, filters: ListFilters, older_than: str | None) -> list[str]:
    """Delete the tasks ``filters`` select (statuses required).

    ``older_than`` counts from the finish time of finished tasks and from the enqueue time of
    waiting (pending, scheduled) ones.

    Raises:
        QueueConfigurationError: No status, a running status, a key, or a bad age; nothing is deleted.
    """
    statuses = _purge_statuses(filters)
    cutoff = service.config.clock.now() - parse_age(older_than) if older_than is not None else None
    finished = [s for s in statuses if s in _FINISHED]
    waiting = [s for s in statuses if s not in _FINISHED]
    deleted = 0
    if waiting:  # checked first: a running status is refused before anything is deleted
        deleted += await service.purge(
            statuses=waiting, queues=filters.queues, task_names=filters.task_names, created_before=cutoff
        )
    if finished:
        deleted += await service.purge(
            statuses=finished, queues=filters.queues, task_names=filters.task_names, finished_before=cutoff
        )
    return [f"deleted {deleted} task(s)"]


def _age_text(age: timedelta) -> str:
    """An age in the largest whole unit of ``--older-than`` (``7d``, ``6h``, ``90s``)."""
    seconds = age.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNIT_SECONDS[unit] and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // _UNIT_SECONDS[unit])}{unit}"
    return f"{seconds:g}s"


async def prune_lines(service: QueueService) -> list[str]:
    """Apply the retention now; one line per status swept."""
    deleted = await service.prune()
    ages = service.config.retention.ages()
    kept = ", ".join(f"{status} {_age_text(age)}" for status, age in ages.items()) or "everything forever"
    lines = [f"deleted {n} {status} task(s)" for status, n in deleted.items()] or ["nothing to delete"]
    return [*lines, f"retention: {kept}"]


async def pause_lines(service: QueueService, queue: str, *, paused: bool) -> list[str]:
    """Pause or resume ``queue``, then name every paused queue."""
    if paused:
        await service.pause(queue)
    else:
        await service.resume(queue)
    now_paused = sorted(await service.paused_queues())
    return [
        f"queue {queue} {'paused: workers claim nothing from it' if paused else 'resumed'}",
        f"paused queues: {', '.join(now_paused) if now_paused else 'none'}",
    ]


def _every(period: timedelta) -> str:
    seconds = period.total_seconds()
    for unit, size in _PERIOD_UNITS:
        if seconds >= size and seconds % size == 0:
            return f"every {int(seconds // size)}{unit}"
    return f"every {seconds:g}s"


def _schedule_json(info: ScheduleInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "status": info.status,
        "task": info.task,
        "cron": info.cron,
        "interval_seconds": info.interval.total_seconds() if info.interval is not None else None,
        "timezone": info.timezone,
        "paused": info.paused,
        "last_fire": info.last_fire.isoformat() if info.last_fire is not None else None,
        "last_task_id": str(info.last_task_id) if info.last_task_id is not None else None,
        "next_fire": info.next_fire.isoformat() if info.next_fire is not None else None,
    }


async def schedules_lines(service: QueueService, *, as_json: bool) -> list[str]:
    """One row per schedule: name, task, cron or interval, time zone, state, last and next fire."""
    infos = await service.schedules()
    if as_json:
        return [json.dumps([_schedule_json(info) for info in infos], sort_keys=True)]
    if not infos:
        return ["no schedules"]
    header = ("name", "task", "when", "timezone", "state", "last fire", "next fire")
    rows = [
        (
            info.name,
            info.task or "-",
            info.cron or (_every(info.interval) if info.interval is not None else "-"),
            info.timezone or "-",
            info.status,
            _when(info.last_fire),
            _when(info.next_fire),
        )
        for info in infos
    ]
    lines = _table(header, rows)
    removed = [info.name for info in infos if info.status == "removed"]
    if removed:
        lines.append(
            f"removed from the code, no longer firing: {', '.join(removed)} "
            "(delete the stored state with: schedules ... delete NAME)"
        )
    return lines


async def schedule_action_lines(
    service: QueueService, action: str, name: str | None, *, force: bool
) -> list[str]:
    """Pause, resume or delete the schedule ``name``; one line saying what changed.

    Raises:
        QueueConfigurationError: The action is unknown or the name is missing.
    """
    if action not in _SCHEDULE_ACTIONS or not name:
        raise QueueConfigurationError(
            f"schedules takes an action ({', '.join(_SCHEDULE_ACTIONS)}) and a schedule name, got "
            f"{action!r} {name!r}"
        )
    if action == "delete":
        await service.delete_schedule(name, force=force)
        return [f"schedule {name} deleted (the tasks it enqueued stay)"]
    if action == "pause":
        await service.pause_schedule(name)
        return [f"schedule {name} paused: its due times pass without firing until resumed"]
    info = await service.resume_schedule(name)
    return [f"schedule {name} resumed: next fire {_when(info.next_fire)}"]
