"""Splitting the backend's own options out of a Redis URL's query string."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar_queues.exceptions import QueueConfigurationError

OWN_OPTIONS = frozenset({"key_prefix", "result_ttl"})
MAX_RESULT_TTL = 100 * 365 * 86_400.0
"""The longest retention in seconds (100 years); ``None`` keeps finished records forever."""
SCHEMES = frozenset({"redis", "rediss", "unix"})


@dataclass(frozen=True, slots=True)
class UrlOptions:
    """The URL for redis-py (own options removed) and the options found in it."""

    redis_url: str
    key_prefix: str | None
    result_ttl: float | None
    has_result_ttl: bool


def parse_ttl(value: str | float | None) -> float | None:
    """Parse a retention: seconds > 0, or ``None`` / ``"none"`` to keep finished records forever.

    Raises:
        QueueConfigurationError: The value is not a number of seconds in range, or ``none``.
    """
    if value is None or (isinstance(value, str) and value.lower() in ("none", "forever")):
        return None
    try:
        seconds = float(value)
    except (ValueError, TypeError, OverflowError):
        seconds = float("nan")
    if isinstance(value, bool) or not 0 < seconds <= MAX_RESULT_TTL:  # NaN fails too
        raise QueueConfigurationError(
            "result_ttl must be a number of seconds greater than 0 and at most 100 years "
            "(3153600000), or 'none' to keep finished records forever"
        )
    return seconds


def split_url(url: str) -> UrlOptions:
    """Remove ``key_prefix`` and ``result_ttl`` from ``url``'s query and return them.

    Raises:
        QueueConfigurationError: The scheme is not redis, rediss or unix, or an option is invalid.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise QueueConfigurationError(
            "a Redis URL must start with redis://, rediss:// (TLS) or unix:// (a socket path)"
        )
    own: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in OWN_OPTIONS:
            own[name] = value
        else:
            rest.append((name, value))
    redis_url = urlunsplit(parts._replace(query=urlencode(rest)))
    return UrlOptions(
        redis_url=redis_url,
        key_prefix=own.get("key_prefix"),
        result_ttl=parse_ttl(own["result_ttl"]) if "result_ttl" in own else None,
        has_result_ttl="result_ttl" in own,
    )
