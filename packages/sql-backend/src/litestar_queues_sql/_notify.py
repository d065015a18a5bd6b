"""Wake-ups: PostgreSQL LISTEN/NOTIFY on a dedicated connection."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any
from uuid import UUID

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

logger = logging.getLogger("litestar_queues_sql")

WORK = "w"
"""Payload of a work notification: new or requeued records may be due."""
FINISH = "f:"
"""Payload prefix of a finish notification, followed by comma-separated task ids (hex)."""
CANCEL = "c:"
"""Payload prefix of a cancel notification: ``c:<task id hex>:<worker id>``."""
MAX_PAYLOAD = 7900
"""PostgreSQL limits a notification payload to 8000 bytes."""
_RETRY_AFTER = 1.0


def finish_payloads(task_ids: Iterable[UUID]) -> list[str]:
    """Pack task ids into as few finish payloads as the size limit allows."""
    payloads: list[str] = []
    current: list[str] = []
    size = len(FINISH)
    for task_id in task_ids:
        item = task_id.hex
        if current and size + len(item) + 1 > MAX_PAYLOAD:
            payloads.append(FINISH + ",".join(current))
            current, size = [], len(FINISH)
        current.append(item)
        size += len(item) + 1
    if current:
        payloads.append(FINISH + ",".join(current))
    return payloads


def cancel_payload(worker_id: str, task_id: UUID) -> str:
    """The notification telling ``worker_id`` that its running ``task_id`` was cancelled."""
    return f"{CANCEL}{task_id.hex}:{worker_id[: MAX_PAYLOAD - 40]}"


class PgListener:
    """Listens on one channel with a dedicated asyncpg connection, reconnecting when it drops.

    Args:
        dsn: ``postgresql://`` DSN for asyncpg.
        channel: The notification channel.
        on_work: Called for a work notification.
        on_finish: Called with task ids for a finish notification.
        on_cancel: Called with a worker id and the task id for a cancel notification.
        on_reset: Called after (re)connecting and on disconnection: notifications may be missed.
    """

    def __init__(
        self,
        dsn: str,
        channel: str,
        *,
        on_work: Callable[[], None],
        on_finish: Callable[[list[UUID]], None],
        on_reset: Callable[[], None],
        on_cancel: Callable[[str, tuple[UUID]], None] | None = None,
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_work = on_work
        self._on_finish = on_finish
        self._on_reset = on_reset
        self._on_cancel = on_cancel
        self._conn: Any = None
        self._retry_at = 0.0
        self._lock = anyio.Lock()
        self._disabled = False

    @property
    def listening(self) -> bool:
        """Whether notifications arrive now."""
        return self._connected()

    def _connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def ensure(self) -> bool:
        """Connect and LISTEN if not connected (at most once a second while failing).

        Returns:
            Whether notifications arrive now.
        """
        if self.listening:
            return True
        if self._disabled or anyio.current_time() < self._retry_at:
            return False
        async with self._lock:
            if self._connected():
                return True
            try:
                import asyncpg
            except ImportError:
                logger.info("asyncpg is not installed: PostgreSQL wake-ups fall back to polling")
                self._disabled = True
                return False
            try:
                with anyio.fail_after(10):
                    conn = await asyncpg.connect(self._dsn)
                    await conn.add_listener(self._channel, self._notified)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                self._retry_at = anyio.current_time() + _RETRY_AFTER
                logger.warning("cannot LISTEN for queue notifications (polling meanwhile): %r", exc)
                return False
            conn.add_termination_listener(self._terminated)
            self._conn = conn
        self._on_reset()
        return True

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        if payload.startswith(FINISH):
            ids = []
            for item in payload[len(FINISH) :].split(","):
                with contextlib.suppress(ValueError):
                    ids.append(UUID(hex=item))
            self._on_finish(ids)
        elif payload.startswith(CANCEL):
            task_hex, _, worker_id = payload[len(CANCEL) :].partition(":")
            with contextlib.suppress(ValueError):
                task_id = UUID(hex=task_hex)
                if self._on_cancel is not None:
                    self._on_cancel(worker_id, (task_id,))
        else:
            self._on_work()

    def _terminated(self, connection: Any) -> None:
        if connection is self._conn:
            self._conn = None
        self._on_reset()

    async def close(self) -> None:
        """Stop listening and close the connection."""
        conn, self._conn = self._conn, None
        self._disabled = True
        if conn is not None and not conn.is_closed():
            with anyio.move_on_after(5, shield=True):
                try:
                    await conn.close()
                except Exception:  # the server may be gone already
                    conn.terminate()
