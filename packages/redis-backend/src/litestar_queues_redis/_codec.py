"""Converting records to script arguments and script replies back to records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from litestar_queues.exceptions import MalformedRecordError
from litestar_queues.serialization import decode_record, encode_record

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar_queues.models import Outcome, TaskRecord

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_STATUSES = frozenset({"pending", "scheduled", "running", "completed", "failed", "cancelled"})
_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


def to_us(moment: datetime) -> str:
    """Encode an aware datetime as integer microseconds since the epoch (exact)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str((moment - EPOCH) // _MICROSECOND)


def _from_us(raw: bytes) -> datetime:
    return EPOCH + timedelta(microseconds=int(raw))


def _opt(value: str | None) -> str:
    return "" if value is None else "s" + value


def record_args(record: TaskRecord) -> list[str | bytes]:
    """The 11 arguments of one record for ``enqueue.lua``."""
    return [
        str(record.id),
        record.queue,
        record.status,
        repr(float(-record.priority)),
        to_us(record.run_at),
        record.key or "",
        str(record.attempts),
        str(record.runs),
        str(record.reclaims),
        str(record.max_reclaims),
        encode_record(record),
    ]


def outcome_args(outcome: Outcome) -> list[str | bytes]:
    """The 6 arguments of one outcome for ``finish.lua``."""
    result = b"s" + _json_encoder.encode(outcome.result) if outcome.kind == "complete" else ""
    return [
        str(outcome.task_id),
        outcome.lease_id,
        outcome.kind,
        result,
        _opt(outcome.error),
        "" if outcome.run_at is None else to_us(outcome.run_at),
    ]


def _text(raw: bytes | None, default: str | None) -> str | None:
    if raw is None:
        return default
    return raw.decode() or None


def _time(raw: bytes | None, default: datetime | None) -> datetime | None:
    if raw is None:
        return default
    return _from_us(raw) if raw else None


def decode_reply(reply: Sequence[Any]) -> TaskRecord:
    """Build a record from a script reply ``[id, rec, status, attempts, ...]``.

    Raises:
        MalformedRecordError: The stored record cannot be decoded.
    """
    (_, rec, status, attempts, runs, reclaims, run_at, started, finished, lease_id, lease_exp, worker,
     error, result) = reply  # fmt: skip
    if rec is None:
        raise MalformedRecordError("stored task record has no 'rec' field")
    base = decode_record(rec)
    try:
        status_text = status.decode()
        if status_text not in _STATUSES:
            raise ValueError(f"unknown status {status_text!r}")
        return msgspec.structs.replace(
            base,
            status=status_text,
            attempts=int(attempts),
            runs=int(runs),
            reclaims=int(reclaims),
            run_at=_from_us(run_at),
            started_at=_time(started, base.started_at),
            finished_at=_time(finished, base.finished_at),
            lease_id=_text(lease_id, base.lease_id),
            lease_expires_at=_time(lease_exp, base.lease_expires_at),
            worker_id=_text(worker, base.worker_id),
            error=_text(error, base.error),
            result=base.result if result is None else _json_decoder.decode(result),
        )
    except (ValueError, TypeError, AttributeError, msgspec.DecodeError) as exc:
        raise MalformedRecordError(f"stored task record has invalid fields: {exc}") from exc


def is_buried(reply: Sequence[Any]) -> bool:
    """Whether a script reply is ``{'!', id, reason}``: the record was moved to the dead letters."""
    return len(reply) == 3 and reply[0] == b"!"
