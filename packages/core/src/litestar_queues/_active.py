"""The process-wide stack of open services that ``Task.enqueue`` uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues.exceptions import NoActiveServiceError

if TYPE_CHECKING:
    from litestar_queues.service import QueueService

_open_services: list[QueueService] = []


def push_active(service: QueueService) -> None:
    """Make ``service`` the active one (most recently opened)."""
    _open_services.append(service)


def pop_active(service: QueueService) -> None:
    """Forget ``service``; the previously opened one becomes active again."""
    for index in range(len(_open_services) - 1, -1, -1):
        if _open_services[index] is service:
            del _open_services[index]
            return


def active_service() -> QueueService:
    """Return the most recently opened service of this process.

    Raises:
        NoActiveServiceError: No service is open.
    """
    if not _open_services:
        raise NoActiveServiceError(
            "no QueueService is open in this process: open one with `async with QueueService(config):`, "
            "or register QueuePlugin on the Litestar app, or pass service= explicitly"
        )
    return _open_services[-1]
