"""Execution profiles: named, typed settings of one execution backend.

``QueueConfig.execution_profiles`` maps profile names to plain mappings; the ``"backend"`` key
names the execution backend a profile belongs to, and the backend decodes the other keys into its
own settings struct (unknown keys and wrong types are configuration errors)::

    QueueConfig(
        app="myapp.queue:config",
        execution_profiles={"heavy": {"backend": "process", "memory_limit_mb": 512, "concurrency": 2}},
    )
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ("decode_profile", "profiles_for")

S = TypeVar("S", bound=msgspec.Struct)


def decode_profile(name: str, settings: Mapping[str, Any], settings_type: type[S]) -> S:
    """Decode the settings of profile ``name`` into ``settings_type``.

    Args:
        name: Profile name (for the error message).
        settings: The profile's mapping from ``QueueConfig.execution_profiles``.
        settings_type: The backend's settings struct (should forbid unknown fields).

    Returns:
        The decoded settings.

    Raises:
        QueueConfigurationError: The mapping does not fit the struct.
    """
    try:
        return msgspec.convert(dict(settings), settings_type, strict=False)
    except (msgspec.ValidationError, TypeError) as exc:
        raise QueueConfigurationError(f"execution profile {name!r}: {exc}") from None


def profiles_for(
    backend: str, profiles: Mapping[str, Mapping[str, Any]]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(name, settings)`` of the profiles whose ``"backend"`` key is ``backend``."""
    for name, settings in profiles.items():
        if settings.get("backend") == backend:
            yield name, settings
