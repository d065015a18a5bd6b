"""The queue's tables as SQLAlchemy Core objects, for the backend and for your migrations.

The default tables live on :data:`metadata` (prefix ``lq_``), so an Alembic ``env.py`` can list
it beside the application's own metadata::

    from litestar_queues_sql import metadata as queue_metadata

    target_metadata = [app_metadata, queue_metadata]

Other prefixes or schemas: :func:`queue_tables` defines the same tables on any ``MetaData``.
Without migrations, :func:`create_schema` (or ``python -m litestar_queues_sql create-schema URL``)
creates them, idempotently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
    inspect,
    text,
)
from sqlalchemy.schema import CreateColumn

from litestar_queues.models import ACTIVE_STATUSES, ALL_STATUSES, TERMINAL_STATUSES, WAITING_STATUSES
from litestar_queues_sql._types import JSONDocument, JSONText, UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = (
    "QueueTables",
    "create_schema",
    "metadata",
    "queue_tables",
    "tables",
)

_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,29}$")


def _status_in(statuses: frozenset[str]) -> str:
    return "status IN ({})".format(", ".join(f"'{s}'" for s in ALL_STATUSES if s in statuses))


ACTIVE = _status_in(ACTIVE_STATUSES)
WAITING = _status_in(WAITING_STATUSES)
TERMINAL = _status_in(TERMINAL_STATUSES)
RUNNING_ROWS = "status = 'running'"
FINISHED_ROWS = "finished_at IS NOT NULL"


@dataclass(frozen=True, slots=True)
class QueueTables:
    """The tables of one queue namespace (a table prefix in a schema).

    Attributes:
        metadata: The ``MetaData`` the tables are defined on.
        tasks: One row per task record; ``seq`` is the enqueue order.
        dead_letters: Rows moved aside because they could not be decoded.
        paused_queues: One row per paused queue (``claim`` skips its records).
        duties: One row per duty taken with ``take_turn``: its holder and the end of its turn.
        schedules: One row per periodic schedule's state (``advance_schedule``): when it fires
            next, whether it is paused, its last fire.
        workers: One row per live worker's presence (``record_worker``): where it runs, what it
            serves, how busy it is, until when it counts as live.
        limits: One row per queue with a limit (``set_limit``): its caps, its rate, and its token
            bucket (tokens and when they were counted).
        table_prefix: Prefix of every table and index name.
        schema: Database schema (``None``: the default one).
    """

    metadata: MetaData
    tasks: Table
    dead_letters: Table
    paused_queues: Table
    duties: Table
    schedules: Table
    workers: Table
    limits: Table
    table_prefix: str
    schema: str | None

    @property
    def all(self) -> tuple[Table, ...]:
        """Every table of the namespace, in creation order."""
        return (
            self.tasks,
            self.dead_letters,
            self.paused_queues,
            self.duties,
            self.schedules,
            self.workers,
            self.limits,
        )

    @property
    def channel(self) -> str:
        """Base name of the PostgreSQL notification channels of this namespace."""
        return f"{self.schema or 'public'}.{self.table_prefix}queue"


def queue_tables(
    metadata: MetaData | None = None, *, table_prefix: str = "lq_", schema: str | None = None
) -> QueueTables:
    """Define the queue tables on ``metadata`` (a new ``MetaData`` when ``None``).

    Args:
        metadata: Where to define the tables (e.g. your application's metadata, for Alembic).
        table_prefix: Prefix of table and index names: letters, digits and ``_``, at most 30.
        schema: Database schema of the tables (PostgreSQL), ``None`` for the default.

    Returns:
        The defined tables.

    Raises:
        ValueError: The prefix is not a valid identifier start.
    """
    if not _PREFIX.match(table_prefix):
        raise ValueError(f"table_prefix must match {_PREFIX.pattern}, got {table_prefix!r}")
    md = metadata if metadata is not None else MetaData()
    p = table_prefix
    tasks = Table(
        f"{p}tasks",
        md,
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("id", Uuid(), nullable=False),
        Column("task_name", Text(), nullable=False),
        Column("queue", Text(), nullable=False),
        Column("priority", Integer(), nullable=False),
        Column("status", Text(), nullable=False),
        Column("key", Text()),
        # added with queue limits: ensure_tables adds it to older tables (NULL: no limit key)
        Column("limit_key", Text()),
        Column("args", JSONText(), nullable=False),
        Column("kwargs", JSONText(), nullable=False),
        Column("metadata", JSONText(), nullable=False),
        Column("attempts", Integer(), nullable=False),
        Column("max_retries", Integer(), nullable=False),
        Column("runs", Integer(), nullable=False),
        Column("reclaims", Integer(), nullable=False),
        Column("max_reclaims", Integer(), nullable=False),
        Column("timeout", Float()),
        Column("execution_backend", Text()),
        Column("execution_profile", Text()),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("run_at", UTCDateTime(), nullable=False),
        Column("started_at", UTCDateTime()),
        Column("finished_at", UTCDateTime()),
        Column("lease_id", Text()),
        Column("lease_expires_at", UTCDateTime()),
        Column("worker_id", Text()),
        Column("result", JSONText()),
        Column("error", Text()),
        # added with the attempt history: ensure_tables adds it to older tables; NULL reads as []
        Column("history", JSONDocument(), server_default=text("'[]'")),
        schema=schema,
    )
    c = tasks.c
    Index(f"{p}tasks_id", c.id, unique=True)
    # the claim: an ordered scan of waiting records by priority, then enqueue order
    Index(
        f"{p}tasks_ready",
        c.priority.desc(),
        c.seq,
        postgresql_where=text(WAITING),
        sqlite_where=text(WAITING),
    )
    Index(
        f"{p}tasks_ready_queue",
        c.queue,
        c.priority.desc(),
        c.seq,
        postgresql_where=text(WAITING),
        sqlite_where=text(WAITING),
    )
    # a dedup key is held by at most one active record: enforced by the database
    Index(
        f"{p}tasks_active_key",
        c.key,
        unique=True,
        postgresql_where=text(f"key IS NOT NULL AND {ACTIVE}"),
        sqlite_where=text(f"key IS NOT NULL AND {ACTIVE}"),
    )
    Index(
        f"{p}tasks_leases",
        c.lease_expires_at,
        postgresql_where=text(RUNNING_ROWS),
        sqlite_where=text(RUNNING_ROWS),
    )
    # the running records of a queue, and of a limit key in it: a claim under a limit counts them
    # from this index (its entries are the running records only: about the workers' concurrency)
    Index(
        f"{p}tasks_running",
        c.queue,
        c.limit_key,
        postgresql_where=text(RUNNING_ROWS),
        sqlite_where=text(RUNNING_ROWS),
    )
    # listings (query) of finished records, per status in (created_at, id) order, the queue
    # checked in the index; only a finish writes to them (enqueues and claims do not), and
    # active records are listed through the claim, lease and key indexes above
    Index(
        f"{p}tasks_finished",
        c.status,
        c.created_at,
        c.id,
        c.queue,
        postgresql_include=["seq"],
        postgresql_where=text(TERMINAL),
        sqlite_where=text(TERMINAL),
    )
    # finished counts over a time window (finished_counts, the operators' "last hour"): a range
    # of finish times, counted from the index alone. Only finished records have a finish time,
    # so only a finish writes to it (as to the listing indexes above; requeue removes the entry)
    Index(
        f"{p}tasks_finished_at",
        c.finished_at,
        c.queue,
        c.status,
        postgresql_where=text(FINISHED_ROWS),
        sqlite_where=text(FINISHED_ROWS),
    )
    Index(
        f"{p}tasks_finished_key",
        c.key,
        c.created_at,
        c.id,
        postgresql_where=text(f"key IS NOT NULL AND {TERMINAL}"),
        sqlite_where=text(f"key IS NOT NULL AND {TERMINAL}"),
    )
    dead_letters = Table(
        f"{p}dead_letters",
        md,
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("task_id", Text()),
        Column("row", Text(), nullable=False),
        Column("error", Text(), nullable=False),
        Column("moved_at", UTCDateTime(), nullable=False, server_default=text("CURRENT_TIMESTAMP")),
        schema=schema,
    )
    # added with pause/resume and maintenance turns: create_all makes them on older databases
    paused_queues = Table(
        f"{p}paused_queues",
        md,
        Column("queue", Text(), primary_key=True),
        Column("paused_at", UTCDateTime(), nullable=False, server_default=text("CURRENT_TIMESTAMP")),
        schema=schema,
    )
    duties = Table(
        f"{p}duties",
        md,
        Column("duty", Text(), primary_key=True),
        Column("holder", Text(), nullable=False),
        Column("until", UTCDateTime(), nullable=False),
        schema=schema,
    )
    # added with schedules (issue 17): create_all makes it on older databases
    schedules = Table(
        f"{p}schedules",
        md,
        Column("name", Text(), primary_key=True),
        Column("next_fire", UTCDateTime(), nullable=False),
        Column("paused", Boolean(), nullable=False, server_default=text("false")),
        Column("last_fire", UTCDateTime()),
        Column("last_task_id", Uuid()),
        Column("updated_at", UTCDateTime(), nullable=False),
        schema=schema,
    )
    # added with worker presence: create_all makes it on older databases; rows of workers whose
    # presence expired are deleted by record_worker, so it holds about one row per live worker
    workers = Table(
        f"{p}workers",
        md,
        Column("worker_id", Text(), primary_key=True),
        Column("hostname", Text(), nullable=False),
        Column("pid", BigInteger(), nullable=False),
        Column("queues", Text()),  # a JSON array of names; NULL: every queue
        Column("concurrency", Integer(), nullable=False),
        Column("started_at", UTCDateTime(), nullable=False),
        Column("seen_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False),
        Column("running", Integer(), nullable=False),
        Column("stopping", Boolean(), nullable=False, server_default=text("false")),
        schema=schema,
    )
    # added with queue limits: create_all makes it on older databases. tokens and counted_at are
    # the token bucket of a rate (NULL: full); claims under the limit lock the row (PostgreSQL)
    limits = Table(
        f"{p}limits",
        md,
        Column("queue", Text(), primary_key=True),
        Column("concurrency", Integer()),
        Column("rate", Integer()),
        Column("per", Float(), nullable=False, server_default=text("1")),
        Column("key_concurrency", Integer()),
        Column("tokens", Float()),
        Column("counted_at", UTCDateTime()),
        schema=schema,
    )
    return QueueTables(
        metadata=md,
        tasks=tasks,
        dead_letters=dead_letters,
        paused_queues=paused_queues,
        duties=duties,
        schedules=schedules,
        workers=workers,
        limits=limits,
        table_prefix=table_prefix,
        schema=schema,
    )


tables = queue_tables()
"""The default queue tables (prefix ``lq_``, default schema)."""

metadata = tables.metadata
"""``MetaData`` holding the default queue tables: add it to your Alembic ``target_metadata``."""


async def ensure_tables(connection: AsyncConnection, namespace: QueueTables) -> None:
    """Create the tables, columns and indexes that do not exist yet (idempotent, safe under concurrency).

    A database made by an earlier version gains the tables (paused queues, duties, schedules,
    workers, limits), and its tasks table the columns and indexes, added since.

    Runs inside the caller's transaction; a transaction-scoped advisory lock (PostgreSQL) or the
    write lock (SQLite) keeps several processes from creating the same objects at once.
    """
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("BEGIN IMMEDIATE")  # one process creates, the others wait
    if connection.dialect.name == "postgresql":
        lock = f"litestar_queues:{namespace.channel}"
        await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": lock})
        if namespace.schema:
            quoted = connection.dialect.identifier_preparer.quote_schema(namespace.schema)
            await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    await connection.run_sync(
        namespace.metadata.create_all,
        tables=list(namespace.all),
        checkfirst=True,
    )
    await connection.run_sync(_upgrade, namespace)


def _upgrade(connection: Connection, namespace: QueueTables) -> None:
    """Bring a tasks table made by an earlier version up to date: missing columns, then indexes.

    ``create_all`` leaves an existing table as it is; columns added since (``history``) are
    added with ``ALTER TABLE ... ADD COLUMN`` (their server default fills the old rows), and
    indexes added since are created. Idempotent: only what the inspector does not find is made.
    """
    tasks = namespace.tasks
    inspector = inspect(connection)
    present = {column["name"] for column in inspector.get_columns(tasks.name, schema=tasks.schema)}
    preparer = connection.dialect.identifier_preparer
    for column in tasks.c:
        if column.name not in present:
            ddl = CreateColumn(column).compile(dialect=connection.dialect)
            connection.exec_driver_sql(f"ALTER TABLE {preparer.format_table(tasks)} ADD COLUMN {ddl}")
    indexes = {index["name"] for index in inspector.get_indexes(tasks.name, schema=tasks.schema)}
    for index in sorted(tasks.indexes, key=lambda i: str(i.name)):
        if index.name not in indexes:
            index.create(connection)


async def create_schema(
    target: AsyncEngine | str, *, table_prefix: str = "lq_", schema: str | None = None
) -> QueueTables:
    """Create the queue tables and indexes if they do not exist yet.

    Args:
        target: An ``AsyncEngine``, or a backend URL (``postgresql://...``, ``sqlite:///queue.db``;
            ``table_prefix`` and ``schema`` query parameters are honoured).
        table_prefix: Prefix of table names (when ``target`` is an engine).
        schema: Database schema (when ``target`` is an engine).

    Returns:
        The tables that now exist.
    """
    from litestar_queues_sql._dialects import engine_from_url, parse_url

    if isinstance(target, str):
        options = parse_url(target)
        engine = engine_from_url(options.url)
        namespace = queue_tables(table_prefix=options.table_prefix, schema=options.schema)
        try:
            async with engine.begin() as conn:
                await ensure_tables(conn, namespace)
        finally:
            await engine.dispose()
        return namespace
    namespace = queue_tables(table_prefix=table_prefix, schema=schema)
    async with target.begin() as conn:
        await ensure_tables(conn, namespace)
    return namespace
