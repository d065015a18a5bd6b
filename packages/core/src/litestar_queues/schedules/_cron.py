"""The cron parser, behind one seam: imported on first use, its errors mapped into ours.

The parser is cronsim (the ``cron`` extra). It follows Debian's cron, including its handling
of daylight-saving changes, which is the rule ``docs/schedules.md`` documents; this module
only adds what the rule needs beyond it: five fields only, UTC in and out, and a result
strictly after the given instant however the local clock folds.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from litestar_queues.exceptions import CronExpressionError, CronNotInstalledError

if TYPE_CHECKING:
    from cronsim import CronSim, CronSimError

__all__ = ("check_expression", "next_cron_fire")

INSTALL_HINT = 'pip install "litestar-queues[cron]"'
# Any instant works for checking an expression; a fixed one keeps the check deterministic.
_CHECK_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def _parser() -> tuple[type[CronSim], type[CronSimError]]:
    try:
        from cronsim import CronSim, CronSimError
    except ImportError:
        raise CronNotInstalledError(
            f"cron schedules need the cron parser cronsim, which is not installed: {INSTALL_HINT}"
        ) from None
    return CronSim, CronSimError


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
    after_utc = after.astimezone(UTC)
    # The parser reads the local wall clock and may hand back a wall time whose instant is not
    # after ``after``: from 02:15 of the second pass of a fall-back hour, the next wall-clock
    # 02:30 is the first pass, an hour earlier. Compare instants (two datetimes sharing a tzinfo
    # compare by wall time) and keep going.
    for candidate in cron_sim(expression, after_utc.astimezone(zone)):
        fire = candidate.astimezone(UTC)
        if fire > after_utc:
            return fire
    raise CronExpressionError(f"cron expression {expression!r} matches no date in the 50 years after {after}")
