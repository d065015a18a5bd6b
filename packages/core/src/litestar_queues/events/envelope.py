"""The event envelope: one stable JSON shape for every queue event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

__all__ = (
    "LIFECYCLE_EVENT_TYPES",
    "SCHEMA_VERSION",
    "EventScope",
    "QueueEvent",
    "decode_event",
    "encode_event",
)

SCHEMA_VERSION = 1
"""Version of the envelope. Adding optional fields keeps it; renaming or removing one bumps it."""

EventScope = Literal["task", "queue", "worker", "global", "custom"]
"""What an event is about; it decides the event's canonical channel."""

LIFECYCLE_EVENT_TYPES: frozenset[str] = frozenset(
    {"task.started", "task.completed", "task.failed", "task.retrying", "task.cancelled"}
)
"""Event types emitted by the worker as a task moves through its lifecycle."""


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class QueueEvent(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=False):
    """A queue event: lifecycle, progress, log or custom.

    On the wire the field names are camelCase (``taskId``, ``occurredAt``); null fields are
    kept so every event has the same shape; ``payload`` passes through verbatim.

    Attributes:
        type: Event type (``task.started``, ``task.progress``, ``task.log``, or a custom type).
        scope: What the event is about: ``task``, ``queue``, ``worker``, ``global`` or ``custom``.
        id: Unique event id (a fresh UUID hex by default).
        schema_version: Envelope version (:data:`SCHEMA_VERSION`).
        scope_key: Key within the scope (the task id, queue name, worker id or custom key).
        task_id: Task the event belongs to.
        task_name: Registered name of that task.
        queue: Queue of that task.
        worker_id: Worker that ran the task (``None`` for runs without a worker).
        execution_backend: Where the task ran.
        execution_profile: Execution profile of the run.
        attempt: Attempt number (1 for the first).
        sequence: Strictly increasing across all events of one task, across attempts.
        level: Log level for ``task.log`` (``debug``, ``info``, ``warning``, ``error``).
        message: Human-readable text.
        progress_current: Units done, for ``task.progress``.
        progress_total: Units in all, for ``task.progress``.
        progress_percent: ``100 * current / total`` clamped to 0..100, when both are known.
        actor: Who caused the event (free text, such as a user id).
        entity: What the event concerns (free text, such as ``"report:42"``).
        payload: Free JSON data, passed through unchanged.
        occurred_at: When it happened (RFC 3339 UTC, trailing ``Z``).
        event_key: Optional dedup key for subscribers (falls back to ``id``).
    """

    type: str
    scope: EventScope
    id: str = msgspec.field(default_factory=_new_id)
    schema_version: int = SCHEMA_VERSION
    scope_key: str | None = None
    task_id: str | None = None
    task_name: str | None = None
    queue: str | None = None
    worker_id: str | None = None
    execution_backend: str | None = None
    execution_profile: str | None = None
    attempt: int | None = None
    sequence: int | None = None
    level: str | None = None
    message: str | None = None
    progress_current: float | None = None
    progress_total: float | None = None
    progress_percent: float | None = None
    actor: str | None = None
    entity: str | None = None
    payload: Any = None
    occurred_at: datetime = msgspec.field(default_factory=_now)
    event_key: str | None = None

    def __post_init__(self) -> None:
        # one instant, one representation: naive times are taken as UTC, others converted to UTC,
        # so the wire form always ends in Z and decode(encode(event)) == event
        if self.occurred_at.tzinfo is not UTC:
            self.occurred_at = _utc(self.occurred_at)

    @property
    def dedup_key(self) -> str:
        """The key subscribers deduplicate on: ``event_key`` when set, else ``id``."""
        return self.event_key if self.event_key is not None else self.id


def _enc_hook(value: Any) -> Any:
    raise NotImplementedError(f"{type(value).__name__} is not JSON serialisable")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_decoder = msgspec.json.Decoder(QueueEvent)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def encode_event(event: QueueEvent) -> bytes:
    """Encode an event as its JSON wire form (``occurredAt`` in UTC with a trailing ``Z``)."""
    if event.occurred_at.tzinfo is not UTC:  # changed after construction
        event = msgspec.structs.replace(event, occurred_at=_utc(event.occurred_at))
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> QueueEvent:
    """Decode an event from its JSON wire form."""
    return _decoder.decode(data)
