"""Operators' changes of queue limits, and the limits a worker writes when it starts.

:class:`~litestar_queues.QueueService` exposes them as ``set_limit()`` and ``limits()``; the
worker calls :func:`write_configured` before it claims anything, so the store holds the limits
of ``QueueConfig.limits``. The store holds the effective limits: a change made at run time
(through the service, a CLI or the dashboard) stays until a worker starts with a configuration
that says otherwise, and a queue absent from the configuration keeps what is stored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from litestar_queues.exceptions import QueueLimitError
from litestar_queues.limits import QueueLimit

if TYPE_CHECKING:
    from collections.abc import Mapping

    from litestar_queues.ports import QueueBackend

__all__ = ("check_limits", "set_limit", "stored_limits", "write_configured")

logger = logging.getLogger("litestar_queues.admin")


def _queue_name(queue: object) -> str:
    if not isinstance(queue, str) or not queue:
        raise QueueLimitError(f"a limit's queue must be a non-empty queue name, got {queue!r}")
    return queue


def check_limits(limits: object) -> dict[str, QueueLimit]:
    """Validate ``QueueConfig.limits``: a mapping of queue names to :class:`QueueLimit`.

    Raises:
        QueueLimitError: It is not such a mapping; the message names the fix.
    """
    if not hasattr(limits, "items") or isinstance(limits, str | bytes):
        raise QueueLimitError(
            'limits must map queue names to QueueLimit, e.g. {"emails": QueueLimit(concurrency=5)}, '
            f"got {limits!r}"
        )
    checked: dict[str, QueueLimit] = {}
    for queue, limit in limits.items():
        name = _queue_name(queue)
        if not isinstance(limit, QueueLimit):
            raise QueueLimitError(
                f"the limit of queue {name!r} must be a QueueLimit (from litestar_queues import QueueLimit), "
                f"got {limit!r}; a queue without a limit is simply left out"
            )
        checked[name] = limit
    return checked


async def set_limit(backend: QueueBackend, queue: str, limit: QueueLimit | None) -> None:
    """Store ``limit`` for ``queue`` (``None``: remove it), for every worker's next claim.

    Raises:
        QueueLimitError: The queue name is empty, or ``limit`` is neither a QueueLimit nor None.
    """
    name = _queue_name(queue)
    if limit is not None and not isinstance(limit, QueueLimit):
        raise QueueLimitError(f"set_limit takes a QueueLimit or None (to remove it), got {limit!r}")
    await backend.set_limit(name, limit)
    if limit is None:
        logger.info("queue %s: limit removed", name)
    else:
        logger.info("queue %s: limit set to %s", name, limit.describe())


async def stored_limits(backend: QueueBackend) -> dict[str, QueueLimit]:
    """The stored limits, by queue name in order."""
    stored = await backend.limits()
    return {queue: stored[queue] for queue in sorted(stored)}


async def write_configured(backend: QueueBackend, limits: Mapping[str, QueueLimit]) -> None:
    """Write the configured limits that differ from the stored ones (a worker starting).

    Queues the configuration does not name keep what is stored.
    """
    if not limits:
        return
    stored = await backend.limits()
    for queue, limit in limits.items():
        if stored.get(queue) != limit:
            await backend.set_limit(queue, limit)
            logger.info("queue %s: limit set to %s (from the configuration)", queue, limit.describe())
