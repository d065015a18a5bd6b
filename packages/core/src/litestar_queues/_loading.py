"""Resolving backend URLs to adapter classes through entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar_queues.ports import BackendReach, QueueBackend

BACKENDS_GROUP = "litestar_queues.backends"

# which distribution provides which URL scheme, for the install hint
_DISTRIBUTION_FOR_SCHEME = {
    "redis": "litestar-queues-redis",
    "rediss": "litestar-queues-redis",
    "unix": "litestar-queues-redis",
    "valkey": "litestar-queues-redis",
    "postgresql": "litestar-queues-sql[asyncpg]",
    "postgres": "litestar-queues-sql[asyncpg]",
    "postgresql+asyncpg": "litestar-queues-sql[asyncpg]",
    "postgresql+psycopg": "litestar-queues-sql[psycopg]",
    "sqlite": "litestar-queues-sql[aiosqlite]",
    "sqlite+aiosqlite": "litestar-queues-sql[aiosqlite]",
}


def backend_from_url(url: str) -> QueueBackend:
    """Build the queue backend registered for ``url``'s scheme.

    Raises:
        QueueConfigurationError: No installed distribution registers the scheme.
    """
    scheme = url.split("://", 1)[0].lower()
    for ep in entry_points(group=BACKENDS_GROUP):
        if ep.name == scheme:
            factory: Any = ep.load()
            backend: QueueBackend = factory(url=url)
            return backend
    distribution = _DISTRIBUTION_FOR_SCHEME.get(scheme)
    hint = (
        f"install {distribution!r} (pip install {distribution})"
        if distribution
        else "no known distribution provides it; pass a QueueBackend instance instead"
    )
    raise QueueConfigurationError(f"no queue backend is installed for URL scheme {scheme!r}: {hint}")


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
            f"it is provided by {distribution!r} (pip install \"{distribution}\"); register it: "
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
