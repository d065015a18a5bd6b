"""Resolving backend URLs to adapter classes through entry points."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar_queues.ports import BackendReach, QueueBackend

BACKENDS_GROUP = "litestar_queues.backends"


@dataclass(frozen=True, slots=True)
class _Provider:
    """Which distribution serves a URL scheme, and the install line that brings it with its driver."""

    distribution: str
    install: str


_REDIS = _Provider("litestar-queues-redis", 'pip install "litestar-queues[redis]"')
_SQLITE = _Provider("litestar-queues-sql", 'pip install "litestar-queues[sql]"')
_ASYNCPG = _Provider("litestar-queues-sql", 'pip install "litestar-queues[postgres]"')
_PSYCOPG = _Provider("litestar-queues-sql", 'pip install "litestar-queues[psycopg]"')

# which distribution provides which URL scheme, for the install hint
_PROVIDER_FOR_SCHEME = {
    "redis": _REDIS,
    "rediss": _REDIS,
    "unix": _REDIS,
    "valkey": _REDIS,
    "valkeys": _REDIS,
    "postgresql": _ASYNCPG,
    "postgres": _ASYNCPG,
    "postgresql+asyncpg": _ASYNCPG,
    "postgresql+psycopg": _PSYCOPG,
    "sqlite": _SQLITE,
    "sqlite+aiosqlite": _SQLITE,
}

# a scheme the provider is installed for but does not register: what to write instead
_SPELLED_DIFFERENTLY = {
    "valkey": "Valkey speaks the Redis protocol: write redis://host:6379/0 (rediss:// for TLS)",
    "valkeys": "Valkey speaks the Redis protocol: write rediss://host:6380/0 (TLS)",
}

_KNOWN_SCHEMES = (
    ("memory://", "built in"),
    ("sqlite:///path/queue.db", _SQLITE.install),
    ("postgresql://user@host/db", _ASYNCPG.install),
    ("redis://host:6379/0", _REDIS.install),
)


def backend_from_url(url: str) -> QueueBackend:
    """Build the queue backend registered for ``url``'s scheme.

    Raises:
        QueueConfigurationError: No installed distribution registers the scheme, or the one that
            does cannot be imported (a dependency of it is missing); the message names the
            ``pip install`` line that fixes it.
    """
    scheme = url.split("://", 1)[0].lower()
    found = [ep for ep in entry_points(group=BACKENDS_GROUP) if ep.name == scheme]
    if not found:
        raise _no_backend_for(scheme)
    ep = found[0]
    try:
        factory: Any = ep.load()
    except ImportError as exc:
        provider = _PROVIDER_FOR_SCHEME.get(scheme)
        fix = provider.install if provider is not None else f"reinstall the distribution of {ep.value}"
        raise QueueConfigurationError(
            f"the queue backend for URL scheme {scheme!r} ({ep.value}) cannot be imported: {exc}: {fix}"
        ) from exc
    backend: QueueBackend = factory(url=url)
    return backend


def _no_backend_for(scheme: str) -> QueueConfigurationError:
    provider = _PROVIDER_FOR_SCHEME.get(scheme)
    if provider is None:
        close = difflib.get_close_matches(scheme, [*_PROVIDER_FOR_SCHEME, "memory"], n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        return QueueConfigurationError(
            f"no queue backend is installed for URL scheme {scheme!r}{guess}: no known distribution "
            f"provides it; use one of {_known_schemes()}, or pass a QueueBackend instance as "
            "QueueConfig(queue_backend=...)"
        )
    installed = _registered_by(provider.distribution)
    if installed is None:
        return QueueConfigurationError(
            f"no queue backend is installed for URL scheme {scheme!r}: it is provided by "
            f"{provider.distribution!r}: {provider.install}"
        )
    instead = _SPELLED_DIFFERENTLY.get(scheme, f"use one of {sorted(installed)}")
    return QueueConfigurationError(
        f"URL scheme {scheme!r} is not served by the installed {provider.distribution!r} (it serves "
        f"{', '.join(sorted(installed))}): {instead}"
    )


def _registered_by(distribution: str) -> set[str] | None:
    """The schemes ``distribution`` registers, or ``None`` when it registers none (not installed)."""
    schemes = {
        ep.name
        for ep in entry_points(group=BACKENDS_GROUP)
        if ep.dist is not None and _normalized(ep.dist.name) == distribution
    }
    return schemes or None


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _known_schemes() -> str:
    return "; ".join(f"{example} ({how})" for example, how in _KNOWN_SCHEMES)


def reach_of(backend: QueueBackend | str) -> BackendReach:
    """The declared reach of a queue backend, or of the one a URL builds (nothing is opened).

    Raises:
        QueueConfigurationError: No installed distribution registers the URL's scheme.
    """
    return (backend_from_url(backend) if isinstance(backend, str) else backend).reach


# which distribution provides which execution backend, for the install hint
_DISTRIBUTION_FOR_EXECUTION_BACKEND = {
    "cloudrun": ("litestar-queues[cloudrun]", "litestar_queues_cloudrun.CloudRunExecutionBackend"),
}


def unknown_execution_backend(name: str, known: Iterable[str]) -> QueueConfigurationError:
    """The error for an execution backend name that is not configured, naming the fix."""
    message = f"unknown execution backend {name!r}; configured: {sorted(known)}"
    provided = _DISTRIBUTION_FOR_EXECUTION_BACKEND.get(name)
    if provided is None:
        fix = f"register it: QueueConfig(execution_backends={{{name!r}: YourExecutionBackend()}})"
    else:
        distribution, path = provided
        module, cls = path.rsplit(".", 1)
        fix = (
            f'it is provided by {distribution!r} (pip install "{distribution}"); register it: '
            f"from {module} import {cls}; QueueConfig(execution_backends={{{name!r}: {cls}()}})"
        )
    return QueueConfigurationError(f"{message}: {fix}")


def unknown_execution_profile(
    name: str, known: Iterable[str], backend: str | None
) -> QueueConfigurationError:
    """The error for an execution profile name that is not configured, naming the fix."""
    settings = f"{{'backend': {backend!r}, ...}}" if backend is not None else "{'backend': ..., ...}"
    return QueueConfigurationError(
        f"unknown execution profile {name!r}; configured: {sorted(known)}: "
        f"add it: QueueConfig(execution_profiles={{{name!r}: {settings}}})"
    )
