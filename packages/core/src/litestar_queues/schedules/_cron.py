"""The cron parser, behind one seam: imported on first use, its errors mapped into ours.

The parser is cronsim (the ``cron`` extra). It only matches wall-clock times here (it is given
naive datetimes); the daylight-saving rule of ``docs/schedules.md`` (Debian cron's) is applied
in this module, because cronsim's own handling of aware datetimes misses fire times in a zone
whose clocks move by half an hour (Australia/Lord_Howe).
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from litestar_queues.exceptions import CronExpressionError, CronNotInstalledError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from cronsim import CronSim, CronSimError

__all__ = ("check_expression", "next_cron_fire")

INSTALL_HINT = 'pip install "litestar-queues[cron]"'
# Any instant works for checking an expression; a fixed one keeps the check deterministic.
_CHECK_FROM = datetime(2000, 1, 1, tzinfo=UTC)
_NO_SHIFT = timedelta(0)
_SECOND = timedelta(seconds=1)


def _parser() -> tuple[type[CronSim], type[CronSimError]]:
    # imported on first use, so that the core and interval schedules never need it
    try:
        module = importlib.import_module("cronsim")
    except ImportError:
        raise CronNotInstalledError(
            f"cron schedules need the cron parser cronsim, which is not installed: {INSTALL_HINT}"
        ) from None
    parser: type[CronSim] = module.CronSim
    error: type[CronSimError] = module.CronSimError
    return parser, error


def check_expression(expression: str, what: str) -> None:
    """Refuse an expression the parser rejects, that is not five fields, or that never matches.

    Args:
        expression: The cron expression.
        what: Names the schedule in the error message.

    Raises:
        CronNotInstalledError: The cron extra is not installed.
        CronExpressionError: The expression is invalid; the message says why.
    """
    cron_sim, cron_sim_error = _parser()
    fields = expression.split()
    if len(fields) != 5:
        raise CronExpressionError(
            f"{what}: cron expression {expression!r} has {len(fields)} fields; write five "
            "(minute hour day-of-month month day-of-week), e.g. '0 3 * * *'; for periods under "
            "a minute use interval= instead"
        )
    try:
        next(cron_sim(expression, _CHECK_FROM))
    except cron_sim_error as exc:
        raise CronExpressionError(
            f"{what}: cron expression {expression!r} is invalid ({exc}); fields are minute 0-59, "
            "hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 or SUN-SAT"
        ) from None
    except StopIteration:
        raise CronExpressionError(
            f"{what}: cron expression {expression!r} matches no date in 50 years; check the "
            "day-of-month and day-of-week fields"
        ) from None


def next_cron_fire(expression: str, zone: tzinfo, after: datetime) -> datetime:
    """The first fire time of ``expression`` on the clock of ``zone`` strictly after ``after``.

    Args:
        expression: A five-field cron expression that :func:`check_expression` accepted.
        zone: The time zone the expression is read in.
        after: An aware instant.

    Returns:
        An aware UTC datetime.

    Raises:
        CronExpressionError: No match within 50 years of ``after``.
    """
    cron_sim, _ = _parser()
    after = after.astimezone(UTC)
    local = after.astimezone(zone)
    wall = local.replace(tzinfo=None)
    fields = expression.split()
    if zone is UTC or not (fields[0].startswith("*") or fields[1].startswith("*")):
        # Fixed minute and hour: each matching wall-clock time fires once. Mapped to instants
        # this way the times never decrease, so the first one after ``after`` is the answer.
        return _first_after(
            cron_sim(expression, wall), expression, after, lambda w: _instant_or_gap_end(w, zone)
        )
    # ``*`` in the minute or hour: every instant whose local time matches. A repeated wall time
    # has two instants; each pass, taken alone, never decreases, so take the first of each.
    # The second pass may start before ``after``'s wall time: ``after`` may sit in the first.
    offsets = [local.replace(fold=fold).utcoffset() or _NO_SHIFT for fold in (0, 1)]
    repeat = max(offsets[0] - offsets[1], _NO_SHIFT)
    return min(
        _first_after(cron_sim(expression, wall), expression, after, lambda w: _instant(w, zone, fold=0)),
        _first_after(
            cron_sim(expression, wall - repeat), expression, after, lambda w: _instant(w, zone, fold=1)
        ),
    )


def _first_after(
    wall_times: Iterator[datetime],
    expression: str,
    after: datetime,
    to_instant: Callable[[datetime], datetime | None],
) -> datetime:
    for wall in wall_times:
        instant = to_instant(wall)
        if instant is not None and instant > after:
            return instant
    raise CronExpressionError(f"cron expression {expression!r} matches no date in the 50 years after {after}")


def _instant(wall: datetime, zone: tzinfo, *, fold: int) -> datetime | None:
    """The instant of a wall time on the given pass, or ``None`` if the clock skipped it."""
    instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
    return instant if instant.astimezone(zone).replace(tzinfo=None) == wall else None


def _instant_or_gap_end(wall: datetime, zone: tzinfo) -> datetime:
    """The first instant of a wall time, or for a skipped one the first instant after the gap."""
    instant = _instant(wall, zone, fold=0)
    if instant is not None:
        return instant
    # For a skipped wall time, fold=1 reads it with the offset after the change (an instant
    # before the change) and fold=0 with the one before (an instant after it): the change is
    # between, found to the second.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > _SECOND:
        middle = before + _SECOND * ((after - before) // _SECOND // 2)
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after
