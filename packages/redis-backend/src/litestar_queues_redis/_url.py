"""The backend's options: its own options in a Redis URL's query string, checks, connections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from litestar_queues.exceptions import QueueConfigurationError

OWN_OPTIONS = frozenset({"key_prefix", "result_ttl"})
MAX_RESULT_TTL = 100 * 365 * 86_400.0
"""The longest retention in seconds (100 years); ``None`` keeps finished records forever."""
MAX_SOCKET_TIMEOUT = 86_400.0
"""The longest socket timeout of the command connections, in seconds."""
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


def check_options(url: Any, socket_timeout: Any) -> None:
    """Check the types and ranges of the options that are not parsed here.

    Raises:
        QueueConfigurationError: ``url`` is not a string, or ``socket_timeout`` is out of range.
    """
    if url is not None and not isinstance(url, str):
        raise QueueConfigurationError("url must be a string such as redis://localhost:6379/0")
    if isinstance(socket_timeout, bool) or not (
        isinstance(socket_timeout, int | float) and 0 < socket_timeout <= MAX_SOCKET_TIMEOUT
    ):
        raise QueueConfigurationError(
            "socket_timeout must be a number of seconds greater than 0 and at most one day (86400)"
        )


def connect(url: str, socket_timeout: float | None) -> aioredis.Redis:
    """A client for ``url`` that retries a dropped connection twice, with backoff.

    Raises:
        QueueConfigurationError: redis-py cannot parse the URL (a port or database that is not
            a number, an unknown query parameter value).
    """
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 2)
    try:
        client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=5.0,
            retry=retry,
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
    except (ValueError, TypeError) as exc:  # redis-py's message quotes the URL's parts
        raise QueueConfigurationError(
            f"the Redis URL is invalid ({type(exc).__name__}): check its port, database number "
            "and query parameters"
        ) from exc
    return client
