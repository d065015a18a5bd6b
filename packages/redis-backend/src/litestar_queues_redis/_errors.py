"""Mapping redis-py's exceptions into the core's, with messages that name the fix.

No message repeats an argument value: redis-py's own texts name hosts and ports, and the server
quotes keys and values, so only the exception's class or the server's error code is kept (the
original stays chained as ``__cause__``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from redis.exceptions import (
    ClusterDownError,
    DataError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from litestar_queues.exceptions import (
    BackendUnavailableError,
    MalformedRecordError,
    QueueConfigurationError,
    QueueError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

_RETRIED = "workers retry on their own"
# server error codes that mean the server is unwell (it refuses writes until an operator acts)
_SICK = {
    "OOM": "it is out of memory (maxmemory reached): raise maxmemory or free memory, and keep "
    "maxmemory-policy noeviction so that records are never evicted",
    "MISCONF": "it cannot save to disk: fix its disk (space, permissions) or its save settings",
    "BUSY": "a long-running script blocks it: wait, or end the script with SCRIPT KILL",
    "MASTERDOWN": "it is a replica that lost its primary: point the URL at the primary",
}
# codes that mean a key under the backend's prefix holds data the backend did not write
_DAMAGED = "the keys under this backend's prefix hold data it did not write"


def _code(exc: ResponseError) -> str:
    code = getattr(exc, "status_code", None)
    if isinstance(code, str) and code:
        return code
    if isinstance(exc, OutOfMemoryError):
        return "OOM"
    first = str(exc).split(" ", 1)[0]
    return first if first.isalpha() and first.isupper() else "ERR"


def refused(exc: ResponseError) -> QueueError:
    """The core's error for a command the server refused."""
    code = _code(exc)
    if code in _SICK:
        return BackendUnavailableError(
            f"the Redis server refuses commands ({code}): {_SICK[code]}; {_RETRIED}"
        )
    if isinstance(exc, NoPermissionError) or code == "NOPERM":
        return QueueConfigurationError(
            "the Redis user may not run a command this backend needs (NOPERM): allow it EVALSHA, "
            "SCRIPT, the hash, sorted set, set, list and pub/sub commands on the backend's keys"
        )
    text = str(exc)
    if code == "WRONGTYPE" or "not an integer" in text or "not a valid float" in text:
        return MalformedRecordError(
            f"{_DAMAGED} ({code}): give each application its own key_prefix, and move the damaged "
            "key aside (the Redis backend's docs, section Limits, list the keys and their types)"
        )
    return BackendUnavailableError(
        f"the Redis server refused a command of the backend ({code}); the chained error holds its "
        f"reply; {_RETRIED}"
    )


@contextlib.contextmanager
def mapped_errors(where: str | None = None) -> Iterator[None]:
    """Map redis-py's exceptions raised inside the block into the core's exceptions.

    Args:
        where: The server's address without credentials (``host:port`` or the socket path), named
            in the unreachable-server message so an operator knows which server to check.
    """
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        at = f" at {where}" if where else ""
        raise BackendUnavailableError(
            f"the Redis server{at} cannot be reached ({type(exc).__name__}): check that it runs and "
            f"that the URL's host, port and credentials are right; {_RETRIED}"
        ) from exc
    except (ReadOnlyError, ClusterDownError, TryAgainError) as exc:  # failover in progress
        raise BackendUnavailableError(
            f"the Redis server cannot take writes now ({type(exc).__name__}): a failover is in progress "
            f"or the URL names a replica; {_RETRIED}"
        ) from exc
    except ResponseError as exc:
        raise refused(exc) from exc
    except DataError as exc:
        raise QueueConfigurationError(
            "a value passed to the Redis backend has a type redis-py cannot send (DataError): pass "
            "str, bytes, int or float"
        ) from exc
