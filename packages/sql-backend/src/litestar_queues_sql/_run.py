"""What the port methods run their statements through: SQLAlchemy's connection, or asyncpg's own.

The backend's logic (enqueue with dedup keys, claims, finishes, moving bad rows aside) is written
once against :class:`Runner`. :class:`SQLRunner` executes through a SQLAlchemy ``AsyncConnection``
(SQLite, psycopg, and the caller's own transaction in ``enqueue_in``);
:class:`~litestar_queues_sql._asyncpg.DriverRunner` runs the same statements, compiled once, on
the asyncpg connection under the engine's pool (the PostgreSQL hot path). Statements given to a
runner take their values through named parameters only (lists as PostgreSQL arrays), so that
one compiled form serves every call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ("Runner", "SQLRunner")


class Runner(Protocol):
    """Runs statements that return rows, on one connection (and its transaction, if any)."""

    @property
    def autocommit(self) -> bool:
        """Whether each statement commits on its own (no transaction is open)."""
        ...

    async def rows(
        self, statement: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> Sequence[Mapping[Any, Any]]:
        """Run ``statement`` (with ``RETURNING`` or a ``SELECT``) and fetch its rows as mappings."""
        ...


class SQLRunner:
    """A :class:`Runner` over a SQLAlchemy ``AsyncConnection``.

    Args:
        conn: The connection; a list of parameter mappings runs the statement once per mapping
            (SQLAlchemy's ``executemany``).
    """

    __slots__ = ("conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def autocommit(self) -> bool:
        """Whether the connection runs in ``AUTOCOMMIT`` isolation."""
        sync = self.conn.sync_connection
        options = sync.get_execution_options() if sync is not None else {}
        return bool(options.get("isolation_level") == "AUTOCOMMIT")

    async def rows(
        self, statement: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> Sequence[Mapping[Any, Any]]:
        """Execute through SQLAlchemy and return the rows as mappings."""
        result = await self.conn.execute(statement, params)
        rows: Sequence[Mapping[Any, Any]] = result.mappings().all()
        return rows
