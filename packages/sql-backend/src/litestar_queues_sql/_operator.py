"""Statements of operators' reads: workers' presences, and counts of recently finished records.

* A presence is a row of the ``workers`` table. ``record_worker`` upserts the worker's row
  (``INSERT ... ON CONFLICT (worker_id) DO UPDATE``), then deletes the rows of other workers that
  expired by the time it was seen, so the table holds about one row per live worker. On
  PostgreSQL each is its own autocommit statement and the delete passes over rows another
  connection holds (``FOR UPDATE SKIP LOCKED``): two workers beating at once never wait for each
  other, nor deadlock (the upsert locks one row, the delete waits for none).
* ``finished_counts`` is one grouped count over a range of the ``tasks_finished_at`` index,
  ``(finished_at, queue, status)`` on the rows that have a finish time (finished ones): the rows
  of the window are counted from the index (an index-only scan on PostgreSQL, a covering index
  on SQLite), whatever the size of the table.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Boolean, Integer, Text, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.models import TERMINAL_STATUSES, WorkerInfo
from litestar_queues_sql._limits import check_names
from litestar_queues_sql._records import record_columns, text_label
from litestar_queues_sql._types import UTCDateTime

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Table

__all__ = (
    "expired_statement",
    "finished_counts_statement",
    "live_statement",
    "read_counts",
    "read_workers",
    "record_statement",
    "worker_params",
)

logger = logging.getLogger("litestar_queues_sql")

_INT32 = 2**31 - 1
_FIELDS = (
    "hostname",
    "pid",
    "queues",
    "concurrency",
    "started_at",
    "seen_at",
    "expires_at",
    "running",
    "stopping",
)


def worker_params(info: WorkerInfo, dialect: str) -> dict[str, Any]:
    """The bound values of :func:`record_statement` for ``info``.

    Raises:
        QueueConfigurationError: A name cannot be stored, or a count is out of range.
    """
    check_names(dialect, worker=info.worker_id, hostname=info.hostname)
    for queue in info.queues or ():
        check_names(dialect, queue=queue)
    for name in ("concurrency", "running"):
        value = getattr(info, name)
        if not 0 <= value <= _INT32:
            raise QueueConfigurationError(f"the worker's {name} must be from 0 to {_INT32}, got {value}")
    return {
        "p_worker": info.worker_id,
        "p_hostname": info.hostname,
        "p_pid": info.pid,
        "p_queues": None if info.queues is None else msgspec.json.encode(list(info.queues)).decode(),
        "p_concurrency": info.concurrency,
        "p_started_at": info.started_at,
        "p_seen_at": info.seen_at,
        "p_expires_at": info.expires_at,
        "p_running": info.running,
        "p_stopping": info.stopping,
    }


@functools.cache
def record_statement(workers: Table, dialect: str) -> Any:
    """Upsert the presence of ``p_worker`` (every column replaced)."""
    types: dict[str, Any] = {
        "started_at": UTCDateTime(),
        "seen_at": UTCDateTime(),
        "expires_at": UTCDateTime(),
    }
    types |= {"pid": Integer(), "concurrency": Integer(), "running": Integer(), "stopping": Boolean()}
    values = {"worker_id": bindparam("p_worker", type_=Text())}
    for field in _FIELDS:
        values[field] = bindparam(f"p_{field}", type_=types.get(field, Text()))
    stmt = (pg_insert(workers) if dialect == "postgresql" else sqlite_insert(workers)).values(values)
    return stmt.on_conflict_do_update(
        index_elements=[workers.c.worker_id], set_={field: stmt.excluded[field] for field in _FIELDS}
    )


@functools.cache
def expired_statement(workers: Table, dialect: str) -> Any:
    """Delete the presences of other workers than ``p_worker`` expired by ``p_seen_at``."""
    c = workers.c
    expired = (c.expires_at <= bindparam("p_seen_at", type_=UTCDateTime())) & (
        c.worker_id != bindparam("p_worker", type_=Text())
    )
    if dialect != "postgresql":
        return delete(workers).where(expired)
    # rows another connection holds (a worker upserting its own, another cleanup) are left
    locked = select(c.worker_id).where(expired).with_for_update(skip_locked=True).scalar_subquery()
    return delete(workers).where(c.worker_id.in_(locked))


@functools.cache
def live_statement(workers: Table) -> Any:
    """The presences with ``expires_at`` after ``p_now``."""
    return select(workers).where(workers.c.expires_at > bindparam("p_now", type_=UTCDateTime()))


def read_workers(rows: Sequence[Any]) -> list[WorkerInfo]:
    """Presences from rows of :func:`live_statement`, by ``(started_at, worker_id)``.

    A row that cannot be read (edited by hand) is left out, with a warning.
    """
    found: list[WorkerInfo] = []
    for row in rows:
        try:
            queues = None if row.queues is None else tuple(msgspec.json.decode(row.queues, type=list[str]))
            found.append(
                WorkerInfo(
                    worker_id=row.worker_id,
                    hostname=row.hostname,
                    pid=row.pid,
                    queues=queues,
                    concurrency=row.concurrency,
                    started_at=row.started_at,
                    seen_at=row.seen_at,
                    expires_at=row.expires_at,
                    running=row.running,
                    stopping=bool(row.stopping),
                )
            )
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            logger.warning("the presence row of worker %r cannot be read, left out: %r", row.worker_id, exc)
    found.sort(key=lambda info: (info.started_at, info.worker_id))
    return found


@functools.cache
def finished_counts_statement(tasks: Table, dialect: str) -> Any:
    """Count the rows with ``finished_at >= p_since`` per queue and status.

    Only finished rows have a finish time: the condition is the index's range alone (no status
    term, which would lead SQLite, without statistics, to the listing index of each status);
    :func:`read_counts` keeps the finished statuses.
    """
    read = {column.key: column for column in record_columns(tasks, dialect)}
    return (
        select(read["queue"], read["status"], func.count())
        .where(tasks.c.finished_at >= bindparam("p_since", type_=UTCDateTime()))
        .group_by(tasks.c.queue, tasks.c.status)
    )


def read_counts(rows: Sequence[Any]) -> dict[str, dict[str, int]]:
    """``{queue: {status: n}}`` of the finished statuses from rows of :func:`finished_counts_statement`."""
    counts: dict[str, dict[str, int]] = {}
    for queue, status, count in rows:
        if text_label(status) not in TERMINAL_STATUSES:
            continue  # not written by this backend: a finish time stays on finished rows only
        per_queue = counts.setdefault(text_label(queue), {})
        per_queue[text_label(status)] = per_queue.get(text_label(status), 0) + count
    return counts
