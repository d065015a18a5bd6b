"""Splitting the backend's own options out of a Redis URL's query string."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar_queues.exceptions import QueueConfigurationError

OWN_OPTIONS = frozenset({"key_prefix", "result_ttl"})
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
        QueueConfigurationError: The value is not a positive number or ``none``.
    """
    if value is None or (isinstance(value, str) and value.lower() in ("none", "forever")):
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise QueueConfigurationError(f"result_ttl must be seconds or 'none', got {value!r}") from None
    if not seconds > 0:
        raise QueueConfigurationError(f"result_ttl must be > 0 seconds (or None), got {value!r}")
    return seconds


def split_url(url: str) -> UrlOptions:
    """Remove ``key_prefix`` and ``result_ttl`` from ``url``'s query and return them.

    Raises:
        QueueConfigurationError: The scheme is not redis, rediss or unix, or an option is invalid.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise QueueConfigurationError(f"Redis URL must use redis://, rediss:// or unix://, got {url!r}")
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
