"""Mapping driver errors to the core's exceptions, with messages that never quote stored values.

SQLAlchemy's own message of a failed statement lists its parameters: for an enqueue, the task's
arguments and metadata (secrets, personal data). The messages built here name the error class,
the SQLSTATE (SQLite: the error name) and the database objects involved, never the driver's
text or the parameters; the driver's exception, kept as ``__cause__`` where it helps, has its
parameters hidden.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc

from litestar_queues.exceptions import (
    BackendUnavailableError,
    PayloadTooLargeError,
    QueueConfigurationError,
    QueueError,
    SerializationError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


class DriverConnectionLost(Exception):
    """The asyncpg connection of the hot path could not be checked out, or broke during a statement.

    Raised by :mod:`litestar_queues_sql._asyncpg` (which runs statements outside SQLAlchemy's
    error handling) where SQLAlchemy would raise an error with ``connection_invalidated``: the
    mapping below turns it into :class:`BackendUnavailableError`.

    Args:
        orig: The driver's exception.
    """

    def __init__(self, orig: BaseException) -> None:
        super().__init__(f"{type(orig).__name__}: {orig}")
        self.orig = orig


_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    OSError,
    TimeoutError,
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (rather than a bad statement)."""
    if isinstance(exc, BackendUnavailableError):
        return False
    if isinstance(exc, DriverConnectionLost):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _UNAVAILABLE)


def _hide_parameters(exc: BaseException) -> None:
    if isinstance(exc, sa_exc.StatementError):
        exc.hide_parameters = True


def _driver_error(exc: BaseException) -> BaseException:
    if isinstance(exc, DriverConnectionLost):
        return exc.orig
    return exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc


def _raised_by_driver(exc: BaseException) -> bool:
    """An error asyncpg raised on the hot path, not wrapped by SQLAlchemy (it carries the SQLSTATE)."""
    return type(exc).__module__.partition(".")[0] == "asyncpg"


def error_code(exc: BaseException) -> str | None:
    """The SQLSTATE of a PostgreSQL error, the error name of a SQLite one, else ``None``."""
    orig = _driver_error(exc)
    for source in (orig, orig.__cause__):
        code = getattr(source, "sqlstate", None) or getattr(source, "sqlite_errorname", None)
        if isinstance(code, str):
            return code
    return None


def describe_error(exc: BaseException) -> str:
    """The error's class, code and the names of the objects involved (no values, no driver text)."""
    orig = _driver_error(exc)
    cause = orig.__cause__ if orig.__cause__ is not None else orig  # asyncpg's own exception
    parts = [type(cause).__name__]
    if (code := error_code(exc)) is not None:
        parts.append(code if code.startswith("SQLITE") else f"SQLSTATE {code}")
    diag = getattr(cause, "diag", None)  # psycopg keeps the names on .diag
    for attribute in ("table_name", "column_name", "constraint_name"):
        label = attribute.removesuffix("_name")
        name = getattr(cause, attribute, None) or getattr(diag, attribute, None)
        if isinstance(name, str) and name:
            parts.append(f"{label} {name}")
    return ", ".join(parts)


@contextlib.contextmanager
def unavailable_as_backend_error(what: str) -> Iterator[None]:
    """Re-raise connection failures inside the block as ``BackendUnavailableError``."""
    try:
        yield
    except Exception as exc:
        if is_unavailable(exc):
            _hide_parameters(exc)
            # a connection error's own text (refused, reset, locked) quotes no values
            reason = f"{type(_driver_error(exc)).__name__}: {_driver_error(exc)}"
            raise BackendUnavailableError(f"the queue database is unavailable ({what}): {reason}") from exc
        raise


@contextlib.contextmanager
def enqueue_errors(database: str, count: int) -> Iterator[None]:
    """Map what the database still refuses at enqueue (past the limits checked before) to typed errors.

    Raised ``from None``: the driver's exception and its text are left out, since they may
    quote the records' arguments.
    """
    try:
        yield
    except QueueError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            _hide_parameters(exc)
            raise BackendUnavailableError(
                f"the queue database is unavailable (enqueue): {describe_error(exc)}; nothing was stored, "
                "enqueue again once it is reachable"
            ) from None
        if not isinstance(exc, sa_exc.DBAPIError | OverflowError | UnicodeError) and not _raised_by_driver(
            exc
        ):
            raise
        raise _refused(exc, database, count) from None


def _refused(exc: BaseException, database: str, count: int) -> QueueError:
    code = error_code(exc) or ""
    records = f"{count} task record{'s' if count != 1 else ''}"
    what = f"{database} refused to store {records} ({describe_error(exc)})"
    if code.startswith("54") or code in ("SQLITE_TOOBIG", "SQLITE_FULL"):
        return PayloadTooLargeError(
            f"{what}: a value is larger than the database can hold; nothing was stored. Make the "
            "arguments, metadata, queue name or key smaller (see the Limits section of the SQL docs)"
        )
    if code == "22003" or isinstance(_driver_error(exc), OverflowError):
        return QueueConfigurationError(
            f"{what}: a number is out of the range the database can hold; nothing was stored. "
            "Check priority and retries against the Limits section of the SQL docs"
        )
    if code.startswith("22") or isinstance(_driver_error(exc), UnicodeError):
        return SerializationError(
            f"{what}: the database cannot hold a value of the record; nothing was stored. Check the "
            "arguments and metadata against the Limits section of the SQL docs"
        )
    if code in ("42P01", "42703"):
        return QueueConfigurationError(
            f"{what}: the queue table or one of its columns does not exist; nothing was stored. Open "
            "the backend with create_schema=true, run `python -m litestar_queues_sql create-schema URL`, "
            "or apply the migration that creates litestar_queues_sql.queue_tables"
        )
    return QueueConfigurationError(
        f"{what}; nothing was stored. The queue table does not accept the record: if you changed it "
        "(constraints, triggers, columns), make it match litestar_queues_sql.queue_tables again"
    )
