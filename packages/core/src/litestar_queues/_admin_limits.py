"""What the ``limits`` and ``limit`` commands of both CLIs print, and how they read their options.

``litestar-queues limit MODULE:ATTR QUEUE --concurrency 5 --rate 60/1m --key-concurrency 1``
and ``litestar queues limit QUEUE ...`` parse their own arguments, then call
:func:`limit_from_options` (before anything is opened: bad input changes nothing) and
:func:`limit_lines`; ``limits`` prints :func:`limits_lines`, and ``status`` ends with
:func:`limit_summary`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from litestar_queues._rates import parse_rate
from litestar_queues.exceptions import QueueLimitError
from litestar_queues.limits import MAX_LIMIT, QueueLimit, describe_period

if TYPE_CHECKING:
    from collections.abc import Mapping

    from litestar_queues.service import QueueService

__all__ = ("limit_from_options", "limit_lines", "limit_summary", "limits_lines")


def limit_from_options(
    *,
    concurrency: int | None,
    rate: str | None,
    key_concurrency: int | None,
    clear: bool,
) -> QueueLimit | None:
    """The limit the ``limit`` command's options describe (``None``: ``--clear``, remove it).

    Raises:
        QueueLimitError: No option, ``--clear`` with another option, or a bad value; the
            message names the fix.
    """
    given = concurrency is not None or rate is not None or key_concurrency is not None
    if clear:
        if given:
            raise QueueLimitError("--clear removes the queue's limit: give it alone, without other options")
        return None
    if not given:
        raise QueueLimitError(
            "give --concurrency N, --rate N/PERIOD or --key-concurrency N (or --clear to remove the limit)"
        )
    for flag, value in (("--concurrency", concurrency), ("--key-concurrency", key_concurrency)):
        if value is not None and not 1 <= value <= MAX_LIMIT:
            raise QueueLimitError(f"{flag} must be a whole number from 1 to {MAX_LIMIT:,}, got {value}")
    options: dict[str, Any] = {"concurrency": concurrency, "key_concurrency": key_concurrency}
    if rate is not None:
        options["rate"], options["per"] = parse_rate(rate)
    return QueueLimit(**options)


def _json(limit: QueueLimit) -> dict[str, Any]:
    return {
        "concurrency": limit.concurrency,
        "rate": limit.rate,
        "per": limit.per if limit.rate is not None else None,
        "key_concurrency": limit.key_concurrency,
    }


def _rate(limit: QueueLimit) -> str:
    return "-" if limit.rate is None else f"{limit.rate}/{describe_period(limit.per)}"


def _cap(value: int | None) -> str:
    return "-" if value is None else str(value)


async def limits_lines(service: QueueService, *, as_json: bool) -> list[str]:
    """One row per queue with a limit: its concurrency, rate and key concurrency."""
    limits = await service.limits()
    if as_json:
        return [json.dumps({queue: _json(limit) for queue, limit in limits.items()}, sort_keys=True)]
    if not limits:
        return ["no limits (set one with: limit QUEUE --concurrency N, --rate N/PERIOD, --key-concurrency N)"]
    header = ("queue", "concurrency", "rate", "key concurrency")
    rows = [
        (queue, _cap(limit.concurrency), _rate(limit), _cap(limit.key_concurrency))
        for queue, limit in limits.items()
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


async def limit_lines(service: QueueService, queue: str, limit: QueueLimit | None) -> list[str]:
    """Set (or, with ``None``, remove) the limit of ``queue``; say what is stored now."""
    await service.set_limit(queue, limit)
    if limit is None:
        return [f"queue {queue}: limit removed"]
    return [
        f"queue {queue}: limit set to {limit.describe()}",
        "stored for every worker; a worker that starts with QueueConfig.limits naming this queue "
        "writes its configured limit again",
    ]


def limit_summary(limits: Mapping[str, QueueLimit]) -> list[str]:
    """The ``status`` lines naming each queue's limit (none when no queue has one)."""
    if not limits:
        return []
    width = max(len(queue) for queue in limits)
    return ["limits:", *(f"  {queue:<{width}}  {limit.describe()}" for queue, limit in limits.items())]
