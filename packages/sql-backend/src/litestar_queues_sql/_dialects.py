"""Backend URLs, engines and per-dialect connection settings."""

from __future__ import annotations

import contextlib
import importlib
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}

# the module each driver imports, and the install line that brings it
_DRIVER_MODULES = {
    "postgresql+asyncpg": ("asyncpg", 'pip install "litestar-queues[postgres]"'),
    "postgresql+psycopg": ("psycopg", 'pip install "litestar-queues[psycopg]"'),
    "sqlite+aiosqlite": ("aiosqlite", 'pip install "litestar-queues[sql]"'),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class URLOptions:
    """A backend URL split into the SQLAlchemy URL and the backend's own options."""

    url: URL
    table_prefix: str
    schema: str | None
    create_schema: bool
    poll_interval: float | None
    busy_timeout: float


def _flag(name: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise QueueConfigurationError(f"URL option {name} must be true or false, got {value!r}")


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise QueueConfigurationError(f"URL option {name} must be a number, got {value!r}") from None
    if not number > 0:
        raise QueueConfigurationError(f"URL option {name} must be > 0, got {value!r}")
    return number


def parse_url(
    url: str,
    *,
    table_prefix: str = "lq_",
    schema: str | None = None,
    create_schema: bool = True,
    poll_interval: float | None = None,
    busy_timeout: float = 30.0,
) -> URLOptions:
    """Split a backend URL into the driver URL and the backend options found in its query.

    ``postgresql://`` and ``postgres://`` use asyncpg, ``sqlite://`` uses aiosqlite. Query
    parameters ``table_prefix``, ``schema``, ``create_schema``, ``poll_interval`` and
    ``busy_timeout`` override the keyword defaults; other parameters go to the driver.

    Raises:
        QueueConfigurationError: The URL is invalid, names an unsupported driver, or is an
            in-memory SQLite database (each connection would see a different database).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise QueueConfigurationError(f"invalid database URL {url!r}: {exc}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise QueueConfigurationError(
            f"unsupported database URL scheme {parsed.drivername!r}; use one of {sorted(_DRIVERS)}"
        )
    query = dict(parsed.query)

    def take(name: str) -> str | None:
        value = query.pop(name, None)
        if isinstance(value, tuple):
            value = value[-1]
        return value

    if (value := take("table_prefix")) is not None:
        table_prefix = value
    if (value := take("schema")) is not None:
        schema = value or None
    if (value := take("create_schema")) is not None:
        create_schema = _flag("create_schema", value)
    if (value := take("poll_interval")) is not None:
        poll_interval = _number("poll_interval", value)
    if (value := take("busy_timeout")) is not None:
        busy_timeout = _number("busy_timeout", value)
    parsed = parsed.set(drivername=driver, query=query)
    require_driver(driver)
    if driver.startswith("sqlite"):
        if parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed):
            raise QueueConfigurationError(
                "an in-memory SQLite database is private to one connection: use a file "
                "(sqlite:///path/queue.db) or the memory:// backend"
            )
        if schema is not None:
            raise QueueConfigurationError("SQLite has no schemas: drop the schema option")
    return URLOptions(parsed, table_prefix, schema, create_schema, poll_interval, busy_timeout)


def require_driver(driver: str) -> None:
    """Import the database driver of ``driver`` (a SQLAlchemy driver name) now, at configuration time.

    Raises:
        QueueConfigurationError: The driver is not installed; the message names the install line.
    """
    found = _DRIVER_MODULES.get(driver)
    if found is None:
        return
    module, install = found
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise _missing_driver(driver, module, install, exc) from exc


def _missing_driver(driver: str, module: str, install: str, exc: ImportError) -> QueueConfigurationError:
    scheme = driver.split("+", 1)[0]
    return QueueConfigurationError(
        f"the {module} driver for {scheme} URLs ({driver}) is not installed ({exc}): {install}"
    )


def engine_from_url(url: URL, *, busy_timeout: float = 30.0, **kwargs: Any) -> AsyncEngine:
    """Create the engine for a parsed backend URL, with the dialect's settings installed.

    The engine's errors do not list statement parameters (``hide_parameters``): they hold the
    tasks' arguments, which must not reach logs. Pass ``hide_parameters=False`` to see them.

    Raises:
        QueueConfigurationError: The URL's database driver is not installed.
    """
    try:
        return _create_engine(url, busy_timeout=busy_timeout, **kwargs)
    except ImportError as exc:
        found = _DRIVER_MODULES.get(url.drivername)
        if found is None or exc.name is None or exc.name.split(".")[0] != found[0]:
            raise
        raise _missing_driver(url.drivername, found[0], found[1], exc) from exc


def _create_engine(url: URL, *, busy_timeout: float, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("hide_parameters", True)
    if url.drivername.startswith("sqlite"):
        # every use ends in an explicit commit or rollback: skip the extra rollback (one more
        # hop to the driver thread) when a connection returns to the pool
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, connect_args={"timeout": busy_timeout}, **kwargs)
        configure_sqlite(engine, busy_timeout=busy_timeout)
        return engine
    # no pre-ping (a round trip per operation): after a server restart the first failure
    # invalidates the whole pool and the next operation reconnects (workers retry with backoff);
    # pass engine_options={"pool_pre_ping": True} to test connections before use instead
    return create_async_engine(url, **kwargs)


def ensure_wal(path: str, *, busy_timeout: float) -> None:
    """Put the SQLite file at ``path`` in WAL mode, retrying while another process holds a lock.

    On a new file (rollback journal) two processes that open it at once can deadlock: one
    converts it to WAL holding a shared lock while the other writes its schema holding a
    reserved one, and SQLite answers one of them "database is locked" at once, without waiting
    its busy timeout. Converting it here first, on a connection of its own that holds nothing
    else, leaves the engine's connections nothing to convert (setting WAL on a WAL file takes no
    lock). Blocking: run it in a thread.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=busy_timeout)) as connection:
                connection.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def configure_sqlite(engine: AsyncEngine, *, busy_timeout: float = 30.0) -> None:
    """Make SQLite connections durable and safe for several processes.

    WAL journal, ``synchronous=NORMAL``, a busy timeout, and write transactions opened with
    ``BEGIN IMMEDIATE``: the driver begins one right before the first INSERT/UPDATE/DELETE of a
    transaction, so the write lock is taken up front (two writers never deadlock upgrading a
    read lock) without an extra round trip to the driver thread; a lone SELECT runs without a
    transaction.
    """
    sync_engine = engine.sync_engine
    if getattr(sync_engine, "_litestar_queues_sqlite", False):
        return
    sync_engine._litestar_queues_sqlite = True  # type: ignore[attr-defined]
    timeout_ms = int(busy_timeout * 1000)

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        dbapi_connection.isolation_level = "IMMEDIATE"
