"""The PostgreSQL hot path on asyncpg's own connection, checked out of the engine's pool.

Through SQLAlchemy's execution layer one statement costs about three times the CPU of the same
statement on asyncpg (0.38 ms against 0.11 ms in issue 20's profile of a worker, which spent
almost half its CPU there; ``tools/hot_path_cost.py`` measures the calls both ways). For the
statements that run all the time (enqueue, claims, finishes, lease extensions, reads by id) the
backend checks a connection out of the engine's pool, so its size, overflow, recycling,
pre-ping and invalidation all still apply, and runs the statement on the asyncpg connection
under it. The SQL is compiled once per statement from the
same SQLAlchemy Core statement that psycopg and SQLite execute (table prefix, schema and all);
asyncpg prepares it once per connection (its statement cache) and decodes rows in C.

Errors: a server error leaves the connection as it was and propagates as asyncpg's exception
(the backend's error mapping reads its SQLSTATE). A connection that broke is invalidated in the
pool, with every connection opened before it (as SQLAlchemy does on a disconnect), and the
error is raised as :class:`~litestar_queues_sql._errors.DriverConnectionLost`, as is a failure to
check a connection out (the pool could not connect). Anything else that interrupts a statement
(cancellation included) closes the connection instead of returning it to the pool in an unknown
state, after asyncpg has asked the server to cancel the statement: a cancelled statement does
not commit later.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import ARRAY
from sqlalchemy.util import greenlet_spawn

from litestar_queues_sql._errors import DriverConnectionLost

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from sqlalchemy import Table
    from sqlalchemy.engine import Dialect
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.types import TypeEngine

__all__ = ("DriverConnections", "DriverRunner", "DriverStatement", "compile_for_driver")


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A statement compiled for the driver: its SQL text and how to order its parameters.

    Attributes:
        sql: The text, with ``$n`` placeholders typed by casts (``$1::UUID[]``).
        binds: For each placeholder in order: its name, its default (the value of a literal
            bound in the statement), and the type's bind processor.
    """

    sql: str
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``params`` (each value processed as SQLAlchemy would)."""
        args = []
        for name, default, process in self.binds:
            value = params.get(name, default)
            args.append(value if process is None or value is None else process(value))
        return args


def compile_for_driver(statement: Any, dialect: Dialect) -> DriverStatement:
    """Compile ``statement`` once for asyncpg.

    Raises:
        ValueError: The statement has an expanding parameter (an ``IN`` list), whose text
            depends on each call's values: pass a PostgreSQL array instead.
    """
    compiled = statement.compile(dialect=dialect)
    if "__[POSTCOMPILE_" in compiled.string:
        raise ValueError("a statement for the driver cannot have expanding parameters")
    binds = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        binds.append((name, None if bind.required else bind.effective_value, _processor(bind.type, dialect)))
    return DriverStatement(compiled.string, tuple(binds))


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The bind processor of a type; for an array, its items' processor applied to each item.

    asyncpg takes a list for an array as it is: SQLAlchemy's own array processor (which walks
    every list even when its items need nothing) is left out.
    """
    if not isinstance(type_, ARRAY):
        return type_.dialect_impl(dialect).bind_processor(dialect)
    item = type_.item_type.dialect_impl(dialect).bind_processor(dialect)
    if item is None:
        return None
    process = item

    def each(values: Sequence[Any]) -> list[Any]:
        return [None if value is None else process(value) for value in values]

    return each


class DriverRunner:
    """A :class:`~litestar_queues_sql._run.Runner` on an asyncpg connection.

    Args:
        conn: The asyncpg connection (checked out by :class:`DriverConnections`).
        compiled: Returns the compiled form of a statement (cached by the caller).
    """

    __slots__ = ("_compiled", "_conn")

    def __init__(self, conn: Any, compiled: Callable[[Any], DriverStatement]) -> None:
        self._conn = conn
        self._compiled = compiled

    @property
    def autocommit(self) -> bool:
        """Whether no transaction is open on the connection."""
        return not self._conn.is_in_transaction()

    async def rows(
        self, statement: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> Sequence[Mapping[Any, Any]]:
        """Run the prepared statement and return asyncpg's records (mappings by column name).

        Raises:
            TypeError: ``params`` is a list of rows: the driver runs one statement per call
                (pass the values as arrays).
        """
        if params is None:
            params = {}
        elif not isinstance(params, Mapping):
            raise TypeError("the driver runs one statement per call: pass arrays, not a list of rows")
        compiled = self._compiled(statement)
        records: Sequence[Mapping[Any, Any]] = await self._conn.fetch(compiled.sql, *compiled.args(params))
        return records

    async def copy(self, table: Table, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """Store ``rows`` (values of ``columns``) in ``table``: ``COPY ... FROM STDIN (FORMAT binary)``."""
        values = list(map(operator.itemgetter(*columns), rows))
        name, schema = table.name, table.schema
        await self._conn.copy_records_to_table(name, records=values, columns=columns, schema_name=schema)


class DriverConnections:
    """Checks asyncpg connections out of an engine's pool and runs statements on them.

    Args:
        engine: A ``postgresql+asyncpg`` engine; its pool lends the connections.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._compiled: dict[Any, DriverStatement] = {}

    def compiled(self, statement: Any) -> DriverStatement:
        """The compiled form of ``statement`` (built and compiled once: statements are cached)."""
        found = self._compiled.get(statement)
        if found is None:
            found = self._compiled[statement] = compile_for_driver(statement, self._engine.dialect)
        return found

    @contextlib.asynccontextmanager
    async def runner(self, *, transaction: bool = False) -> AsyncIterator[DriverRunner]:
        """A runner on a pooled connection: autocommit, or inside ``BEGIN ... COMMIT``."""
        async with self._connection() as conn:
            if not transaction:
                yield DriverRunner(conn, self.compiled)
                return
            async with conn.transaction():
                yield DriverRunner(conn, self.compiled)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        import asyncpg

        try:
            fairy = await self._engine.raw_connection()
        except Exception as exc:  # refused, reset, starting up, timed out: nothing to run on
            raise DriverConnectionLost(exc) from exc
        conn: Any = fairy.driver_connection
        try:
            yield conn
        except BaseException as exc:
            if isinstance(exc, asyncpg.PostgresError) and not conn.is_closed():
                await self._check_in(fairy)  # a server error: the connection is fine
                raise
            broken = OSError | TimeoutError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError
            # asyncpg's DataError (an InterfaceError and a ValueError): a value it cannot encode
            if conn.is_closed() or (isinstance(exc, broken) and not isinstance(exc, ValueError)):
                # like SQLAlchemy on a disconnect: every connection of the pool opened before
                # this one is replaced at its next checkout (a server restart broke them all)
                self._engine.sync_engine.pool._invalidate(fairy, exc)
                raise DriverConnectionLost(exc) from exc
            # cancelled or failed mid-statement: never reused. Closed as SQLAlchemy closes an
            # invalidated connection, which first has asyncpg send its CancelRequest: a cancelled
            # autocommit statement waiting for a lock must not commit once the lock is free
            with anyio.CancelScope(shield=True):
                await greenlet_spawn(fairy.invalidate, exc)
            raise
        if conn.is_closed():
            self._engine.sync_engine.pool._invalidate(fairy)
        else:
            await self._check_in(fairy)

    async def _check_in(self, fairy: Any) -> None:
        """Return a connection to the pool; without SQLAlchemy's greenlet when that is bookkeeping.

        A check-in is bookkeeping when the connection goes back into a queue pool with room
        (a full one closes it) and no ``checkin`` or ``reset`` event of the engine's owner runs:
        the reset itself, a rollback, does nothing here (the connection's SQLAlchemy adapter
        began no transaction). Anything else may need to await, so it runs in a greenlet. The
        greenlet costs a fifth of a single enqueue's CPU (measured: 8 µs).
        """
        pool = self._engine.sync_engine.pool
        room = isinstance(pool, QueuePool) and pool.checkedin() < pool.size()
        if room and not pool.dispatch.checkin and not pool.dispatch.reset:
            fairy.close()
        else:
            await greenlet_spawn(fairy.close)
