"""Mapping driver errors to the core's :class:`~litestar_queues.BackendUnavailableError`."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc

from litestar_queues.exceptions import BackendUnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterator

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
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _UNAVAILABLE)


@contextlib.contextmanager
def unavailable_as_backend_error(what: str) -> Iterator[None]:
    """Re-raise connection failures inside the block as ``BackendUnavailableError``."""
    try:
        yield
    except Exception as exc:
        if is_unavailable(exc):
            raise BackendUnavailableError(f"the queue database is unavailable ({what}): {exc}") from exc
        raise
