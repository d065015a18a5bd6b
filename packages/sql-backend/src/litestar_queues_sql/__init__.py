"""litestar-queues-sql: the SQL queue backend (PostgreSQL for scale, SQLite as the embedded default).

Configure it by URL (``QueueConfig(queue_backend="postgresql://...")`` or
``"sqlite:///path/queue.db"``) or build :class:`SQLQueueBackend` with an existing engine.
"""

from __future__ import annotations

from litestar_queues_sql.backend import SQLQueueBackend
from litestar_queues_sql.schema import QueueTables, create_schema, metadata, queue_tables, tables
from litestar_queues_sql.transaction import enqueue_in_transaction

__all__ = (
    "QueueTables",
    "SQLQueueBackend",
    "create_schema",
    "enqueue_in_transaction",
    "metadata",
    "queue_tables",
    "tables",
)
