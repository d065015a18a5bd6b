"""Rates and periods as operators type them: ``60/1m``, ``10/s``, ``5/10s``; ``1m``, ``10s``, ``90``.

The CLIs' ``--rate`` option and the dashboard's limit form read them here, so both accept the
same text and refuse bad text with the same hint. A period is a number with an optional unit
(``s``, ``m``, ``h``, ``d``; none means seconds); in a rate the number may be left out
(``10/s``: ten a second).
"""

from __future__ import annotations

import re

from litestar_queues.exceptions import QueueLimitError
from litestar_queues.limits import MAX_LIMIT, MAX_PER, MIN_PER

__all__ = ("PERIOD_HINT", "RATE_HINT", "parse_period", "parse_rate")

RATE_HINT = "N/PERIOD, e.g. 60/1m (60 a minute), 10/s, 5/10s, 1000/1h"
"""What a rate looks like, for messages."""

PERIOD_HINT = "a period such as 1s, 10s, 1m, 1h, 1d (a bare number is seconds)"
"""What a period looks like, for messages."""

_PERIOD = r"(\d+(?:\.\d+)?)?\s*([smhd]?)"
_RATE = re.compile(rf"^\s*(\d+)\s*/\s*{_PERIOD}\s*$")
_PERIOD_ALONE = re.compile(rf"^\s*{_PERIOD}\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(amount: str | None, unit: str) -> float:
    return float(amount or 1) * _UNIT_SECONDS[unit]


def parse_period(text: str, *, name: str = "the period") -> float:
    """``1m``, ``10s``, ``1.5s``, ``90`` as seconds.

    Args:
        text: The period as typed.
        name: What the messages call it (the option or field it came from).

    Raises:
        QueueLimitError: The text is not a period, or the period is out of range.
    """
    match = _PERIOD_ALONE.match(text)
    if match is None or not any(match.groups()):
        raise QueueLimitError(f"{name} takes {PERIOD_HINT}; got {text!r}")
    per = _seconds(*match.groups())
    if not MIN_PER <= per <= MAX_PER:
        raise QueueLimitError(
            f"{name} must be from {MIN_PER:g} s to {MAX_PER:,.0f} s ({PERIOD_HINT}); got {text!r}"
        )
    return per


def parse_rate(text: str, *, name: str = "--rate") -> tuple[int, float]:
    """``60/1m``, ``10/s``, ``5/10s``, ``1000/1h`` as ``(rate, per seconds)``.

    Args:
        text: The rate as typed.
        name: What the messages call it (the option or field it came from).

    Raises:
        QueueLimitError: The text is not such a rate (the message shows the form).
    """
    match = _RATE.match(text)
    if match is None:
        raise QueueLimitError(f"{name} takes {RATE_HINT}; got {text!r}")
    count, amount, unit = match.groups()
    rate, per = int(count), _seconds(amount, unit)
    if not 1 <= rate <= MAX_LIMIT:
        raise QueueLimitError(
            f"{name} needs from 1 to {MAX_LIMIT:,} starts per period ({RATE_HINT}); got {text!r}"
        )
    if not MIN_PER <= per <= MAX_PER:
        raise QueueLimitError(
            f"{name} needs a period from {MIN_PER:g} s to {MAX_PER:,.0f} s ({RATE_HINT}); got {text!r}"
        )
    return rate, per
