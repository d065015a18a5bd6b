"""The task list's filters, read from a query string and checked: a bad one is a 400 that says why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from litestar.exceptions import ClientException

from litestar_queues._admin import parse_age
from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.models import ALL_STATUSES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from litestar_queues import QueueService, TaskPage

__all__ = ("SINCE_CHOICES", "TaskFilters")

SINCE_CHOICES = ("15m", "1h", "6h", "24h", "7d")
"""The ages offered by the ``enqueued within`` filter."""

_FIELDS = ("queue", "status", "task", "key", "since", "after", "before", "order", "cursor")


def _time(name: str, value: str) -> datetime:
    """An ISO time (``2024-05-01T12:30``, as a ``datetime-local`` input sends it) read as UTC when naive."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ClientException(
            detail=f"malformed time {value!r} for {name}: "
            "use 2024-05-01T12:30 (UTC) or an ISO time with an offset"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _names(value: str) -> list[str] | None:
    names = [part.strip() for part in value.split(",") if part.strip()]
    return names or None


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """What the task list shows: the filters of ``service.list_tasks``, as the form sent them.

    Every attribute is the text of its form field (``""``: not set), so the form shows them again.
    """

    queue: str = ""
    status: str = ""
    task: str = ""
    key: str = ""
    since: str = ""
    after: str = ""
    before: str = ""
    order: str = "newest"
    cursor: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> TaskFilters:
        """Read and check the filters of a query string.

        Raises:
            ClientException: A status is unknown, a time or age malformed, or the order is
                neither ``newest`` nor ``oldest`` (400; the message names the value and the choices).
        """
        values = {name: str(query.get(name) or "").strip() for name in _FIELDS}
        values["order"] = values["order"] or "newest"
        filters = cls(**values)
        for status in _names(filters.status) or ():
            if status not in ALL_STATUSES:
                raise ClientException(detail=f"unknown status {status!r}: one of {', '.join(ALL_STATUSES)}")
        if filters.order not in ("newest", "oldest"):
            raise ClientException(detail=f"unknown order {filters.order!r}: newest or oldest")
        if filters.since:
            try:
                parse_age(filters.since)
            except QueueConfigurationError:
                raise ClientException(
                    detail=f"malformed age {filters.since!r}: use one such as {', '.join(SINCE_CHOICES)}"
                ) from None
        for name in ("after", "before"):
            if getattr(filters, name):
                _time(name, getattr(filters, name))
        return filters

    @property
    def statuses(self) -> list[str]:
        """The statuses asked for (empty: all)."""
        return _names(self.status) or []

    def query_string(self, *, cursor: str | None = None) -> str:
        """These filters as a query string (``cursor``: another page of them)."""
        values = {name: getattr(self, name) for name in _FIELDS if name != "cursor"}
        if values["order"] == "newest":
            values["order"] = ""
        if cursor:
            values["cursor"] = cursor
        return urlencode({k: v for k, v in values.items() if v})

    async def page(self, service: QueueService, *, limit: int) -> TaskPage:
        """The page of tasks these filters select.

        Raises:
            ClientException: The service refused a filter or the cursor (400, with its message).
        """
        now = service.config.clock.now()
        created_after = _time("after", self.after) if self.after else None
        if self.since:
            since = now - parse_age(self.since)
            created_after = since if created_after is None else max(created_after, since)
        try:
            return await service.list_tasks(
                queues=_names(self.queue),
                statuses=_names(self.status),
                task_names=_names(self.task),
                key=self.key or None,
                created_after=created_after,
                created_before=_time("before", self.before) if self.before else None,
                newest_first=self.order != "oldest",
                limit=limit,
                cursor=self.cursor or None,
            )
        except QueueConfigurationError as exc:
            raise ClientException(detail=str(exc)) from None
