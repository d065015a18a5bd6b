"""Global limits of a queue, enforced by the store: a concurrency cap, a rate, a cap per limit key.

A worker's ``concurrency`` bounds what one worker runs. A :class:`QueueLimit` bounds what every
worker of every process runs from one queue: at most ``concurrency`` running records, at most
``rate`` starts per ``per`` seconds, and at most ``key_concurrency`` running records per
``limit_key`` (the partition key given at enqueue: ``limit_key="customer:42"``). The queue
backend applies it inside ``claim`` and ``claim_task``, in the same atomic step as it hands
records out, so no interleaving of workers ever exceeds it. A record a limit holds back stays
due and keeps its place (priority, then enqueue order): the claim passes over it.

The rate is a token bucket: it holds at most ``rate`` tokens and gains ``rate`` tokens every
``per`` seconds, continuously; each start takes one. Its state is two numbers (the tokens, and
when they were counted), updated in O(1) by the claim that takes them, and it is smooth: after
idleness it allows a burst of at most ``rate`` starts, then one start every ``per / rate``
seconds. Over any window of ``T`` seconds the starts are therefore at most
``rate + rate * T / per`` (the full bucket, plus what flows in meanwhile).

Backends written in Python decide a claim with :class:`LimitGate`, which applies these rules
record by record; the memory and SQL backends do, and a custom backend may.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from litestar_queues.exceptions import QueueLimitError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("MAX_LIMIT", "MAX_PER", "MIN_PER", "Bucket", "LimitGate", "QueueLimit", "describe_period")

MAX_LIMIT = 2**31 - 1
"""The largest ``concurrency``, ``rate`` and ``key_concurrency`` (every backend stores them exactly)."""

MIN_PER = 0.001
"""The shortest period of a rate, in seconds."""

MAX_PER = 100_000_000.0
"""The longest period of a rate, in seconds (about three years)."""

_MICROSECOND = timedelta(microseconds=1)
_CAPS = {
    "concurrency": "running records of the queue",
    "rate": "starts per period",
    "key_concurrency": "running records per limit key",
}


class Bucket(msgspec.Struct, frozen=True):
    """A rate-limited queue's token bucket as stored: its tokens, and when they were counted.

    Attributes:
        tokens: The tokens left after the last start (at most the rate; may be fractional).
        counted_at: When they were counted (the latest claim time that took one).
    """

    tokens: float
    counted_at: datetime


class QueueLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The limit of one queue, across every worker: see :mod:`litestar_queues.limits`.

    Give at least one of ``concurrency``, ``rate`` and ``key_concurrency``; ``None`` leaves
    that part unlimited. Checked when built: a bad value raises
    :class:`~litestar_queues.exceptions.QueueLimitError` naming the field and the fix.

    Attributes:
        concurrency: At most this many records of the queue run at once.
        rate: At most this many records of the queue start per ``per`` seconds (a token bucket
            of ``rate`` tokens, refilled continuously).
        per: The period of ``rate`` in seconds (default 1; ``per=60.0`` for a rate per minute).
        key_concurrency: At most this many records with the same ``limit_key`` run at once in
            the queue (records without a limit key are not counted against it).
    """

    concurrency: int | None = None
    rate: int | None = None
    per: float = 1.0
    key_concurrency: int | None = None

    def __post_init__(self) -> None:
        for name, what in _CAPS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LIMIT:
                raise QueueLimitError(
                    f"{name} ({what}) must be a whole number from 1 to {MAX_LIMIT:,}, or None for "
                    f"no cap, got {value!r}"
                )
        per = self.per
        if (
            isinstance(per, bool)
            or not isinstance(per, int | float)
            or not math.isfinite(per)
            or not MIN_PER <= per <= MAX_PER
        ):
            raise QueueLimitError(
                f"per (the rate's period) must be seconds from {MIN_PER:g} to {MAX_PER:,.0f}, got {per!r}"
            )
        msgspec.structs.force_setattr(self, "per", float(per))
        if self.rate is None and self.per != 1.0:
            raise QueueLimitError(
                "per is the period of rate: give rate too "
                "(QueueLimit(rate=100, per=60.0): 100 starts a minute)"
            )
        if self.concurrency is None and self.rate is None and self.key_concurrency is None:
            raise QueueLimitError(
                "a QueueLimit needs concurrency, rate or key_concurrency; to remove a queue's limit, "
                "set it to None (service.set_limit(queue, None), or the CLI's limit QUEUE --clear)"
            )

    def tokens(self, bucket: Bucket | None, now: datetime) -> float:
        """The tokens of this queue's bucket at ``now``: the stored ones plus what flowed in since.

        A queue without a stored bucket has a full one. Time counts forward only (a claim whose
        clock is behind the stored ``counted_at`` adds nothing), and the bucket never holds more
        than ``rate`` tokens. The arithmetic is in integer microseconds and doubles, in this
        order, so every backend (the Redis scripts too) counts the same tokens.

        Raises:
            QueueLimitError: The limit has no rate.
        """
        if self.rate is None:
            raise QueueLimitError("this limit has no rate, so no token bucket")
        if bucket is None:
            return float(self.rate)
        elapsed = max(0, (now - bucket.counted_at) // _MICROSECOND)
        return min(float(self.rate), bucket.tokens + elapsed * self.rate / (self.per * 1_000_000))

    def describe(self) -> str:
        """A short text for operators: ``concurrency 5, 60 per 1m, 1 per limit key``."""
        parts = []
        if self.concurrency is not None:
            parts.append(f"concurrency {self.concurrency}")
        if self.rate is not None:
            parts.append(f"{self.rate} per {describe_period(self.per)}")
        if self.key_concurrency is not None:
            parts.append(f"{self.key_concurrency} per limit key")
        return ", ".join(parts)


def describe_period(seconds: float) -> str:
    """A period in its largest whole unit: ``1s``, ``1m``, ``2h``, ``1d``, ``0.5s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class LimitGate:
    """The limits' rule of one claim, applied record by record in claim order.

    Built with the limits of the queues a claim may take from, what runs now and the stored
    buckets; :meth:`admit` then says, for each due record in claim order, whether it may start,
    and counts it when it may. A record it refuses is held back (and keeps its place). A
    backend stores :meth:`buckets` in the same atomic step as the claim.

    Args:
        limits: The stored limits of the queues concerned (queues without one are not limited).
        now: The claim's time.
        running: Running records per limited queue.
        key_running: Running records per ``(queue, limit_key)`` of queues with a key cap.
        buckets: The stored buckets of rate-limited queues (a missing one is full).
    """

    __slots__ = ("_counted", "_key_running", "_limits", "_running", "_started", "_starved", "_tokens")

    def __init__(
        self,
        limits: Mapping[str, QueueLimit],
        now: datetime,
        *,
        running: Mapping[str, int],
        key_running: Mapping[tuple[str, str], int],
        buckets: Mapping[str, Bucket],
    ) -> None:
        self._limits = limits
        self._running = dict(running)
        self._key_running = dict(key_running)
        self._tokens: dict[str, float] = {}
        self._counted: dict[str, datetime] = {}
        for queue, limit in limits.items():
            if limit.rate is not None:
                bucket = buckets.get(queue)
                self._tokens[queue] = limit.tokens(bucket, now)
                self._counted[queue] = now if bucket is None else max(bucket.counted_at, now)
        self._started: set[str] = set()
        self._starved: set[str] = set()

    def limited(self, queue: str) -> bool:
        """Whether ``queue`` has a limit."""
        return queue in self._limits

    def limited_queues(self) -> list[str]:
        """The queues with a limit, by name."""
        return sorted(self._limits)

    def queue_open(self, queue: str) -> bool:
        """Whether a record of ``queue`` may start as far as the queue's cap and bucket go."""
        limit = self._limits.get(queue)
        if limit is None:
            return True
        if limit.concurrency is not None and self._running.get(queue, 0) >= limit.concurrency:
            return False
        return limit.rate is None or self._tokens[queue] >= 1

    def closed_keys(self) -> list[tuple[str, str]]:
        """The ``(queue, limit_key)`` pairs at their queue's key cap: no record of theirs may start."""
        closed = []
        for (queue, key), running in self._key_running.items():
            cap = self._limits[queue].key_concurrency if queue in self._limits else None
            if cap is not None and running >= cap:
                closed.append((queue, key))
        return sorted(closed)

    def note_held(self, queues: list[str]) -> None:
        """Note that ``queues`` hold back due records: those out of tokens count for :meth:`token_wait`."""
        for queue in queues:
            if queue in self._tokens and self._tokens[queue] < 1:
                self._starved.add(queue)

    def key_open(self, queue: str, limit_key: str | None) -> bool:
        """Whether a record with ``limit_key`` may start as far as the queue's key cap goes."""
        limit = self._limits.get(queue)
        if limit is None or limit.key_concurrency is None or limit_key is None:
            return True
        return self._key_running.get((queue, limit_key), 0) < limit.key_concurrency

    def admit(self, queue: str, limit_key: str | None) -> bool:
        """Whether the next due record (of ``queue``, with ``limit_key``) may start; counts it if so."""
        if queue not in self._limits:
            return True
        if not (self.queue_open(queue) and self.key_open(queue, limit_key)):
            self.note_held([queue])
            return False
        self._running[queue] = self._running.get(queue, 0) + 1
        if limit_key is not None:
            pair = (queue, limit_key)
            self._key_running[pair] = self._key_running.get(pair, 0) + 1
        if queue in self._tokens:
            self._tokens[queue] -= 1
            self._started.add(queue)
        return True

    def buckets(self) -> dict[str, Bucket]:
        """The buckets to store: those of the rate-limited queues this claim started records of."""
        return {queue: Bucket(self._tokens[queue], self._counted[queue]) for queue in sorted(self._started)}

    def token_wait(self) -> float | None:
        """Seconds until a queue that held a record back for want of a token has one (``None``: none did)."""
        waits = []
        for queue in self._starved:
            limit = self._limits[queue]
            assert limit.rate is not None
            waits.append(max(0.0, (1 - self._tokens[queue]) * limit.per / limit.rate))
        return min(waits) if waits else None
