"""The hot commands (the scripts, the idle workers' wait) on a few connections of the backend's own.

redis-py's ``execute_command`` costs far more client CPU than the command's bytes: a pool lock
and health check on the way in and out, a retry wrapper, observability hooks, and on a
connection with a socket timeout a task per send (``asyncio.wait_for``). A task enqueue or a
claim paid about as much for that as for everything else it does. A :class:`DirectLine` sends
the packed command on a connection it keeps itself and reads the reply with redis-py's own
parser, under one timeout for both (``asyncio.timeout``: redis-py runs on asyncio only, and
this is its cheapest timeout). It keeps the behaviour that matters:

* a reply the server refused raises as before (the connection stays: its reply was read);
  ``NOSCRIPT`` (a restarted or flushed server) goes the regular way, which loads the script;
* a connection found closed (the server restarted, or closed an idle connection) goes the
  regular way too, with redis-py's retries and backoff; it is reconnected on its next use;
* a call that failed, timed out or was cancelled in flight closes its connection, so a late
  reply is never read as the next call's.

Used only with the clients the backend opened from its URL: a client passed in (a cluster, a
pool with its own limits) is used as given. At most ``most`` calls run on it at once; others go
the regular way.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anyio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from redis.asyncio.connection import AbstractConnection, ConnectionPool

_LARGEST = 32 * 1024
"""Larger commands go the regular way: a send that small never waits for the socket to drain."""


class DirectLine:
    """Sends commands on connections of its own (made by the client's pool, with its settings).

    Args:
        pool: The connection pool of the client the backend opened.
        timeout: Seconds for the send and the reply together (``None``: no limit, for commands
            that block on the server with a timeout of their own).
        most: How many connections it keeps (calls beyond go the regular way).
    """

    __slots__ = ("_encoding", "_errors", "_free", "_made", "_most", "_pool", "_timeout")

    def __init__(self, pool: ConnectionPool, timeout: float | None, most: int = 4) -> None:
        self._pool = pool
        self._timeout = timeout
        self._most = most
        self._free: list[AbstractConnection] = []
        self._made: list[AbstractConnection] = []
        kwargs = pool.connection_kwargs
        self._encoding: str = kwargs.get("encoding", "utf-8")
        self._errors: str = kwargs.get("encoding_errors", "strict")

    def _pack(self, args: Sequence[str | bytes]) -> bytes | None:
        """The command in the wire protocol (``None``: an argument not str or bytes, or too large)."""
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            if type(arg) is str:
                data = arg.encode(self._encoding, self._errors)
            elif type(arg) is bytes:
                data = arg
            else:
                return None  # redis-py's own path converts (or refuses) it
            parts += (b"$%d\r\n" % len(data), data, b"\r\n")
        packed = b"".join(parts)
        return packed if len(packed) <= _LARGEST else None

    def _connection(self) -> AbstractConnection | None:
        if self._free:
            return self._free.pop()
        if len(self._made) >= self._most:
            return None
        kwargs = dict(self._pool.connection_kwargs)
        # the line's own timeout covers the send and the reply: without a socket timeout,
        # redis-py neither wraps each send in a task nor applies a second limit to the read
        kwargs["socket_timeout"] = None
        connection: AbstractConnection = self._pool.connection_class(**kwargs)
        self._made.append(connection)
        return connection

    async def call(self, args: Sequence[str | bytes], regular: Callable[[], Awaitable[Any]]) -> Any:
        """Run the command ``args``; ``regular()`` runs it through redis-py instead when needed.

        Raises:
            redis.exceptions.TimeoutError: No reply within the line's timeout.
            redis.exceptions.ResponseError: The server refused the command.
        """
        packed = self._pack(args)
        connection = None if packed is None else self._connection()
        if connection is None or packed is None:
            return await regular()
        clean = False  # the reply was read whole: the connection can carry the next command
        try:
            try:
                async with asyncio.timeout(self._timeout):
                    if not connection.is_connected:
                        await connection.connect()  # type: ignore[no-untyped-call]
                    await connection.send_packed_command(packed, check_health=False)
                    reply = await connection.read_response()
                clean = True
            except ResponseError as exc:
                clean = True
                if isinstance(exc, NoScriptError):
                    return await regular()  # loads the script
                raise
            except TimeoutError:
                raise RedisTimeoutError("no reply from the Redis server in time") from None
            except (RedisConnectionError, OSError):
                # found closed (server restart, idle timeout): this call goes the regular way,
                # with redis-py's retries; the connection reconnects on its next use
                return await regular()
        finally:
            if not clean:  # failed, timed out or cancelled in flight: a late reply is never read
                with anyio.CancelScope(shield=True):
                    await connection.disconnect(nowait=True)
            self._free.append(connection)
        return reply

    async def close(self) -> None:
        """Close the connections the line made."""
        for connection in self._made:
            await connection.disconnect()
        self._made.clear()
        self._free.clear()
