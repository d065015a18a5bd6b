"""A clock that moves only when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ("ManualClock",)

_DEFAULT_START = datetime(2030, 1, 1, tzinfo=UTC)


class ManualClock:
    """A :class:`~litestar_queues.ports.Clock` that stands still until :meth:`advance` is called.

    Use it in tests of code that reads time through the ``Clock`` port, and to produce the
    ``now`` / ``lease_until`` arguments passed to a queue backend.

    Args:
        start: The initial time (an aware datetime); defaults to 2030-01-01 00:00 UTC.

    Raises:
        ValueError: When ``start`` is a naive datetime.
    """

    __slots__ = ("_now",)

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = _DEFAULT_START
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime (e.g. tzinfo=UTC)")
        self._now = start

    def now(self) -> datetime:
        """Return the current (manual) time."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward.

        Args:
            seconds: How far to move; must not be negative.

        Returns:
            The new current time.

        Raises:
            ValueError: When ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("a ManualClock never goes backwards")
        self._now += timedelta(seconds=seconds)
        return self._now

    def later(self, seconds: float) -> datetime:
        """Return the time ``seconds`` after now, without moving the clock."""
        return self._now + timedelta(seconds=seconds)
