"""Turning a :class:`RecordQuery` into the arguments of ``query.lua``.

The listing indexes are sorted sets whose members all score 0, so Redis orders them by bytes:
``listing_position`` puts ``created_at`` first (fixed-width hex) and the id after it, so the byte
order is the query order ``(created_at, id)``. The keyset position (``after``) and both
``created_*`` bounds therefore become the two ends of one ``ZRANGEBYLEX`` range: the script
reads from the position on, never past the bound, in O(log n) per index however deep the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues_redis._codec import listing_position, micros_clamped, time_prefix

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar_queues.models import RecordQuery

__all__ = ("DELETE_CHUNK", "QUERY_BUDGET", "query_filters", "query_range")

QUERY_BUDGET = 1000
"""Index entries one ``query.lua`` call reads at most: the client calls again from where it stopped.

This bounds how long one call holds the server (a few milliseconds), whatever the filters; a query
whose filters the indexes do not serve (task names, finished bounds) takes as many calls as
it needs to fill its page or reach the end of the range.
"""

DELETE_CHUNK = 200
"""Records one ``delete.lua`` call selects at most: a delete of more takes several calls.

Deleting a record costs the server about 14 µs (reading and checking it, dropping its hash and
its entries), so a call of 200 holds the server about 3 ms, like a ``query.lua`` call of
``QUERY_BUDGET`` entries, where the retention sweep's ``limit=1000`` in one call would hold it
for 15 ms.
"""

# a lex bound: (text, inclusive)
_Bound = tuple[str, bool]


def _spec(bound: _Bound | None, open_end: str) -> str:
    if bound is None:
        return open_end
    text, inclusive = bound
    return ("[" if inclusive else "(") + text


def query_range(query: RecordQuery) -> tuple[str, str, str]:
    """``(order, from, to)``: the order (``desc``/``asc``) and the lex range bounds, in reading order.

    ``created_after`` (inclusive) is a lower bound ``[<prefix>``: every member created then or later
    is greater than the bare prefix. ``created_before`` (exclusive) is an upper bound
    ``(<prefix>``: a member created at that time is greater than the bare prefix, so left out.
    ``after`` is the exclusive bound ``(<position>`` on the side the reading starts from.
    """
    lows: list[_Bound] = []
    highs: list[_Bound] = []
    if query.created_after is not None:
        lows.append((time_prefix(query.created_after), True))
    if query.created_before is not None:
        highs.append((time_prefix(query.created_before), False))
    if query.after is not None:
        position = (listing_position(query.after.created_at, query.after.id), False)
        (highs if query.newest_first else lows).append(position)
    # the tighter bound wins; on equal text the exclusive one is tighter
    low = max(lows, key=lambda b: (b[0], not b[1])) if lows else None
    high = min(highs, key=lambda b: (b[0], b[1])) if highs else None
    if query.newest_first:
        return "desc", _spec(high, "+"), _spec(low, "-")
    return "asc", _spec(low, "-"), _spec(high, "+")


def _names(values: Sequence[str] | None) -> list[str]:
    if values is None:
        return ["0"]
    unique = list(dict.fromkeys(values))
    return [str(len(unique)), *unique]


def query_filters(query: RecordQuery) -> list[str]:
    """The filter arguments of ``query.lua``: finished bounds, key, task names, queues, statuses."""
    return [
        "" if query.finished_after is None else str(micros_clamped(query.finished_after)),
        "" if query.finished_before is None else str(micros_clamped(query.finished_before)),
        "" if query.key is None else "s" + query.key,
        *_names(query.task_names),
        *_names(query.queues),
        *_names(query.statuses),
    ]
