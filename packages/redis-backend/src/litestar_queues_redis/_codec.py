"""Converting records to script arguments and script replies back to records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from litestar_queues.exceptions import MalformedRecordError, QueueLimitError
from litestar_queues.limits import QueueLimit
from litestar_queues.models import ALL_STATUSES, AttemptRecord, ScheduleState
from litestar_queues.serialization import decode_record, encode_record
from litestar_queues_redis._limits import EPOCH, MAX_US, check_outcome, check_time, encode_failure

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar_queues.models import Outcome, TaskRecord

_STATUSES = frozenset(ALL_STATUSES)
_json_encoder = msgspec.json.Encoder()
# what msgspec raises for a value it cannot encode (a lone surrogate is a UnicodeEncodeError)
_ENCODE_ERRORS = (TypeError, ValueError, OverflowError, RecursionError)


class _Meta(msgspec.Struct):
    """The changed fields of a reply (``None``: as in ``rec``; ``""``: ``None``)."""

    status: str
    attempts: str
    runs: str
    reclaims: str
    run_at: str
    started_at: str | None = None
    finished_at: str | None = None
    lease_id: str | None = None
    lease_exp: str | None = None
    worker_id: str | None = None
    error: str | None = None
    result: str | None = None


_meta_decoder = msgspec.json.Decoder(_Meta)
_json_decoder = msgspec.json.Decoder()
_history_decoder = msgspec.json.Decoder(list[AttemptRecord])
_MICROSECOND = timedelta(microseconds=1)
_POSITION_OFFSET = 2**53
"""Added to a time in microseconds (within 2**53 of 1970) to make it a non-negative number."""


def micros_clamped(moment: datetime) -> int:
    """``moment`` in microseconds since the epoch, clamped to one past the range records hold.

    A query bound outside the range of stored times (see :func:`to_us`) then compares like
    it: below every stored time, or above.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(-MAX_US - 1, min(MAX_US + 1, (moment - EPOCH) // _MICROSECOND))


def time_prefix(moment: datetime) -> str:
    """The first 14 characters of the listing positions of records created at ``moment``."""
    return f"{micros_clamped(moment) + _POSITION_OFFSET:014x}"


def listing_position(created_at: datetime, task_id: UUID | str) -> str:
    """A record's member in the listing indexes: ``created_at`` as 14 hex digits, then the id.

    All members are scored 0, so the index orders them by bytes: by ``created_at`` (the hex
    digits of microseconds plus 2**53 have a fixed width), then by id (the canonical UUID text
    orders as the UUID's bytes: lower-case hex with the dashes at fixed places).
    """
    return f"{time_prefix(created_at)}{task_id}"


def to_us(moment: datetime, option: str = "a time") -> str:
    """Encode a datetime as integer microseconds since the epoch (exact; naive means UTC).

    Raises:
        QueueConfigurationError: ``moment`` lies outside the range the backend stores exactly.
    """
    return str(check_time(moment, option))


def _opt(value: str | None) -> str:
    return "" if value is None else "s" + value


def record_args(record: TaskRecord) -> list[str | bytes]:
    """The 14 arguments of one record for ``enqueue.lua`` (the record was checked by ``check_record``).

    Raises:
        QueueConfigurationError: ``created_at`` lies outside the range the backend stores exactly.
        SerializationError: The record holds a value msgspec cannot encode.
    """
    to_us(record.created_at, "created_at")  # the listing position holds it exactly
    try:
        encoded = encode_record(record)
    except _ENCODE_ERRORS as exc:
        raise encode_failure("a task's arguments, keyword arguments, metadata or names", exc) from None
    return [
        str(record.id),
        record.queue,
        record.status,
        repr(float(-record.priority)),
        to_us(record.run_at, "run_at"),
        record.key or "",
        str(record.attempts),
        str(record.runs),
        str(record.reclaims),
        str(record.max_reclaims),
        encoded,
        listing_position(record.created_at, record.id),
        record.task_name,
        record.limit_key or "",
    ]


def outcome_args(outcome: Outcome) -> list[str | bytes]:
    """The 7 arguments of one outcome for ``finish.lua``.

    Raises:
        QueueConfigurationError: A field is of the wrong type or out of range.
        SerializationError: The result cannot be encoded as JSON.
    """
    check_outcome(outcome)
    result: bytes | str = ""
    if outcome.kind == "complete":
        try:
            result = b"s" + _json_encoder.encode(outcome.result)
        except _ENCODE_ERRORS as exc:
            raise encode_failure("a task's result", exc) from None
    history: bytes | str = ""
    if outcome.history is not None:
        try:
            history = b"s" + _json_encoder.encode(outcome.history)
        except _ENCODE_ERRORS as exc:
            raise encode_failure("an outcome's history", exc) from None
    return [
        str(outcome.task_id),
        outcome.lease_id,
        outcome.kind,
        result,
        _opt(outcome.error),
        "" if outcome.run_at is None else to_us(outcome.run_at, "an outcome's run_at"),
        history,
    ]


def _text(raw: str | None, default: str | None) -> str | None:
    if raw is None:
        return default
    return raw or None


def _time(raw: str | None, default: datetime | None) -> datetime | None:
    if raw is None:
        return default
    return EPOCH + timedelta(microseconds=int(raw)) if raw else None


def decode_reply(reply: Sequence[Any]) -> TaskRecord:
    """Build a record from a script reply ``[id, rec, meta, history]``.

    ``history`` is ``None`` when no outcome stored one: the record's JSON holds it (written at
    enqueue; a record written before attempt histories existed reads back with an empty one).

    Raises:
        MalformedRecordError: The stored record cannot be decoded, or its JSON is another record's.
    """
    task_id, rec, meta_json, history = reply
    if rec is None:
        raise MalformedRecordError("stored task record has no 'rec' field")
    base = decode_record(rec)
    text = str(base.id)
    if (text.encode() if isinstance(task_id, bytes) else text) != task_id:
        raise MalformedRecordError("stored task record's JSON holds the id of another record")
    try:
        meta = _meta_decoder.decode(meta_json)
        if meta.status not in _STATUSES:
            raise ValueError("unknown status")
        return msgspec.structs.replace(
            base,
            status=meta.status,
            attempts=int(meta.attempts),
            runs=int(meta.runs),
            reclaims=int(meta.reclaims),
            run_at=EPOCH + timedelta(microseconds=int(meta.run_at)),
            started_at=_time(meta.started_at, base.started_at),
            finished_at=_time(meta.finished_at, base.finished_at),
            lease_id=_text(meta.lease_id, base.lease_id),
            lease_expires_at=_time(meta.lease_exp, base.lease_expires_at),
            worker_id=_text(meta.worker_id, base.worker_id),
            error=_text(meta.error, base.error),
            result=base.result if meta.result is None else _json_decoder.decode(meta.result),
            history=base.history if history is None else _history_decoder.decode(history),
        )
    except (ValueError, TypeError, OverflowError, msgspec.DecodeError) as exc:
        # OverflowError: a time beyond what datetime holds
        raise MalformedRecordError(f"stored task record has invalid fields: {exc}") from exc


def is_buried(reply: Sequence[Any]) -> bool:
    """Whether a script reply is ``{'!', id, reason}``: the record was moved to the dead letters."""
    return bool(reply[0] == b"!")


def _us(raw: bytes) -> datetime:
    return EPOCH + timedelta(microseconds=int(raw))


def decode_schedule(reply: Sequence[bytes], name: str | None = None) -> ScheduleState:
    """Build a schedule state from a script reply (``schedule_reply`` in ``lua/schedules.lua``).

    The reply is ``[name, next_fire, paused, last_fire, last_task_id, updated_at]``: times in
    microseconds, ``b""`` for ``None``, each field checked by the script. Times come back as
    aware UTC datetimes, exact to the microsecond.

    Args:
        reply: The reply.
        name: The name the caller passed (used as is), or ``None`` to decode the reply's.
    """
    raw_name, next_fire, paused, last_fire, last_task_id, updated_at = reply
    return ScheduleState(
        name=raw_name.decode(errors="replace") if name is None else name,
        next_fire=_us(next_fire),
        paused=paused == b"1",
        last_fire=_us(last_fire) if last_fire else None,
        last_task_id=UUID(last_task_id.decode()) if last_task_id else None,
        updated_at=_us(updated_at),
    )


def encode_limit(limit: QueueLimit) -> str:
    """A limit as ``limits.lua`` reads it: ``"concurrency rate per key_concurrency"``, ``-`` for none.

    ``per`` is written with ``repr``, which a Lua ``tonumber`` reads back to the same double.
    """
    parts = (
        limit.concurrency,
        limit.rate,
        limit.per if limit.rate is not None else None,
        limit.key_concurrency,
    )
    return " ".join("-" if value is None else repr(value) for value in parts)


def decode_limit(queue: str, raw: bytes | str) -> QueueLimit:
    """The limit stored for ``queue`` (see :func:`encode_limit`).

    Raises:
        QueueLimitError: The stored text is not a valid limit (written behind the backend's back).
    """
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    try:
        concurrency, rate, per, key_concurrency = (None if part == "-" else part for part in text.split(" "))
        return QueueLimit(
            concurrency=None if concurrency is None else int(concurrency),
            rate=None if rate is None else int(rate),
            per=1.0 if per is None else float(per),
            key_concurrency=None if key_concurrency is None else int(key_concurrency),
        )
    except (ValueError, QueueLimitError) as exc:
        raise QueueLimitError(
            f"the stored limit of queue {queue!r} is invalid ({exc}): set it again "
            "(service.set_limit, or the CLI's limit command)"
        ) from None
