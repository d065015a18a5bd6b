"""Retry backoff: how long a failed attempt waits before the next one."""

from __future__ import annotations

import math
import random

import msgspec

from litestar_queues.exceptions import QueueConfigurationError

__all__ = ("Backoff",)


class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """Exponential backoff with jitter between attempts.

    The delay before retry ``n`` (1 for the first retry) is
    ``min(maximum, initial * multiplier ** (n - 1))``, then spread by up to ``jitter`` (a
    fraction) either way so that many failing tasks do not retry in lock-step.

    Attributes:
        initial: Seconds before the first retry.
        multiplier: Growth factor per retry.
        maximum: Longest delay in seconds.
        jitter: Fraction of the delay added or removed at random (0 disables it).
    """

    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 300.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0:
            raise QueueConfigurationError("backoff delays must not be negative")
        if self.multiplier < 1:
            raise QueueConfigurationError("backoff multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise QueueConfigurationError("backoff jitter must be between 0 and 1")

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based; any size, never overflows)."""
        base = self.initial
        if self.multiplier > 1 and base > 0:
            # grow in log space: multiplier ** n overflows a float long before n reaches 2**31
            exponent = max(0, retry_number - 1)
            limit = math.log(self.maximum / base) / math.log(self.multiplier) if self.maximum > base else 0.0
            base = self.maximum if exponent >= limit else base * self.multiplier**exponent
        base = min(self.maximum, base)
        if self.jitter == 0 or base == 0:
            return base
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))
