"""Checking the values of a progress event: what is published, and what is malformed."""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from typing import Any

__all__ = ("ProgressValues", "check_progress")


class ProgressValues:
    """The progress fields of one event, after checking.

    Attributes:
        current: Units done, or ``None``.
        total: Units in all, or ``None``.
        percent: The explicit percent clamped to 0..100, else ``100 * current / total`` clamped,
            when both are known and ``total`` is positive, else ``None``.
        problems: One entry per malformed argument (``"current '3' (str)"``); each was replaced
            by ``None``.
    """

    __slots__ = ("current", "percent", "problems", "total")

    def __init__(
        self, current: float | None, total: float | None, percent: float | None, problems: list[str]
    ) -> None:
        self.current = current
        self.total = total
        self.percent = percent
        self.problems = problems


def _is_real(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real | Decimal)


def _number(name: str, value: Any, problems: list[str]) -> float | None:
    """Return ``value`` as a JSON number, or ``None`` (recording a problem when it is malformed)."""
    if value is None:
        return None
    if not _is_real(value):
        problems.append(f"{name} {value!r} ({type(value).__name__})")
        return None
    if type(value) is int:
        return int(value)  # kept an int, as the caller wrote it
    try:
        number = float(value)  # Decimal, Fraction, numpy scalars: msgspec encodes only int, float
    except (OverflowError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        problems.append(f"{name} {value!r}")
        return None
    return number


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, value))


def check_progress(current: Any, total: Any, percent: Any) -> ProgressValues:
    """Check the arguments of a progress call.

    Each of ``current``, ``total`` and ``percent`` may be ``None`` or a finite real number
    (``bool`` is not one). Anything else is malformed: it becomes ``None`` and is reported in
    :attr:`ProgressValues.problems`; the caller decides whether that fails (strict mode) or is
    logged.
    """
    problems: list[str] = []
    checked_current = _number("current", current, problems)
    checked_total = _number("total", total, problems)
    checked_percent = _number("percent", percent, problems)
    if checked_percent is not None:
        checked_percent = _clamp(checked_percent)
    elif checked_current is not None and checked_total is not None and checked_total > 0:
        try:
            checked_percent = _clamp(100.0 * checked_current / checked_total)
        except OverflowError:  # ints beyond the float range
            checked_percent = None
    return ProgressValues(checked_current, checked_total, checked_percent, problems)
