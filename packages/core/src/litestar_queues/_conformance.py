"""Checking that an adapter instance handed to the core provides every member of its port."""

from __future__ import annotations

from typing import Any, Protocol

from litestar_queues.exceptions import QueueConfigurationError

__all__ = ("require_members",)


def require_members(candidate: object, port: type[Any], what: str) -> None:
    """Raise a configuration error naming the members of ``port`` that ``candidate`` lacks.

    Used where a user hands the core an adapter instance, so that an undeclared capability is a
    clear error at configuration time instead of an ``AttributeError`` at the first task.

    Raises:
        QueueConfigurationError: Members are missing; the message names them and the fix.
    """
    missing = [name for name in sorted(_protocol_members(port)) if not hasattr(candidate, name)]
    if missing:
        raise QueueConfigurationError(
            f"{what} ({type(candidate).__name__}) lacks {', '.join(missing)} of the {port.__name__} port: "
            f"subclass {port.__module__}.{port.__name__} to inherit the defaults, or declare them"
        )


def _protocol_members(port: type[Any]) -> set[str]:
    members: set[str] = set()
    for base in port.__mro__:
        if base in (Protocol, object) or base.__name__ == "Generic":
            continue
        members.update(n for n in vars(base) if not n.startswith("_"))
        members.update(n for n in getattr(base, "__annotations__", {}) if not n.startswith("_"))
    return members
