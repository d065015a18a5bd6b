"""What the Redis backend can store and read back, checked per record before anything is written.

The scripts compute with doubles (Lua numbers) and the client reads times back as integer
microseconds since the epoch, so numbers the scripts touch must be exact in a double: priorities
and counters within 2**53, times within 2**53 microseconds of 1970. Everything else is stored as
msgspec JSON. Each check is O(1) per record (the content is checked by encoding it, which the
enqueue does anyway), and no message repeats the rejected value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar_queues.exceptions import QueueConfigurationError, SerializationError
from litestar_queues.models import AttemptRecord

if TYPE_CHECKING:
    from litestar_queues.models import Outcome, TaskRecord

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
MAX_PRIORITY = 2**53
"""Priorities run from ``-MAX_PRIORITY`` to ``MAX_PRIORITY``: the ready set's score is a double."""
MAX_COUNT = 2**53 - 1
"""The largest retries, max_reclaims, attempts, runs and reclaims the scripts count exactly."""
MAX_TIMEOUT = float(2**53)
"""The largest timeout in seconds (stored as a JSON double)."""
MAX_US = 2**53 - 1
"""Times lie within this many microseconds of the epoch (exact in a double)."""
EARLIEST = EPOCH - timedelta(microseconds=MAX_US)
LATEST = EPOCH + timedelta(microseconds=MAX_US)
_RANGE = f"between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} UTC"
_NEW_STATUSES = frozenset({"pending", "scheduled"})
_OUTCOME_KINDS = frozenset({"complete", "fail", "retry", "release"})
_REAL = (int, float)
_JSON_HINT = (
    "pass JSON values only: str (valid Unicode), int, float, bool, None, lists, and dicts with str keys"
)


def _whole(value: Any, option: str, low: int, high: int, limits: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise QueueConfigurationError(
            f"{option} must be a whole number {limits}: the Redis backend's scripts count with "
            "doubles, which hold larger numbers inexactly"
        )


def _text(value: Any, option: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not value:
        raise QueueConfigurationError(f"{option} must be a non-empty string{' or None' if optional else ''}")


def _moment(value: Any, option: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, datetime):
        raise QueueConfigurationError(f"{option} must be a datetime{' or None' if optional else ''}")


def check_time(moment: datetime, option: str) -> int:
    """Return ``moment`` as integer microseconds since the epoch (naive means UTC).

    Raises:
        QueueConfigurationError: ``moment`` lies outside the range the backend stores exactly.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micros = (moment - EPOCH) // _MICROSECOND
    if not -MAX_US <= micros <= MAX_US:
        raise QueueConfigurationError(
            f"{option} must lie {_RANGE}: the Redis backend stores times as microseconds in a double"
        )
    return micros


def _plain(record: TaskRecord) -> bool:
    """Whether every field has the exact type and range a record built by the core has.

    The fast path of :func:`check_record` (about 1 us): exact types only, so a subclass (an
    ``IntEnum`` priority, a ``datetime`` subclass) takes the slow path, which accepts it. The range
    of ``run_at`` is checked when it is encoded (:func:`check_time`).
    """
    r = record
    timeout, key, run_at, limit_key = r.timeout, r.key, r.run_at, r.limit_key
    return (
        type(r.id) is UUID
        and type(r.task_name) is str
        and r.task_name != ""
        and type(r.queue) is str
        and r.queue != ""
        and (key is None or (type(key) is str and key != ""))
        and (limit_key is None or (type(limit_key) is str and limit_key != ""))
        and r.status in _NEW_STATUSES
        and type(r.priority) is int
        and -MAX_PRIORITY <= r.priority <= MAX_PRIORITY
        and type(r.max_retries) is int
        and type(r.max_reclaims) is int
        and type(r.attempts) is int
        and type(r.runs) is int
        and type(r.reclaims) is int
        and 0 <= r.max_retries <= MAX_COUNT
        and 0 <= r.max_reclaims <= MAX_COUNT
        and 0 <= r.attempts <= MAX_COUNT
        and 0 <= r.runs <= MAX_COUNT
        and 0 <= r.reclaims <= MAX_COUNT
        and (timeout is None or (type(timeout) in _REAL and 0 < timeout <= MAX_TIMEOUT))
        and type(run_at) is datetime
        and run_at.tzinfo is not None
        and type(r.created_at) is datetime
        and r.started_at is None
        and r.finished_at is None
        and r.lease_expires_at is None
        and r.lease_id is None
        and r.worker_id is None
        and r.error is None
        and (r.execution_backend is None or type(r.execution_backend) is str)
        and (r.execution_profile is None or type(r.execution_profile) is str)
        and type(r.args) is list
        and type(r.kwargs) is dict
        and type(r.metadata) is dict
    )


def check_record(record: TaskRecord) -> None:
    """Check every field of a record about to be enqueued (O(1): the content is checked when encoded).

    Raises:
        QueueConfigurationError: A field is of the wrong type or outside what the backend can
            hold; the message names the option and its limit.
        SerializationError: The arguments, keyword arguments or metadata are not a JSON list or
            object.
    """
    if _plain(record):
        return
    if not isinstance(record.id, UUID):
        raise QueueConfigurationError("a task record's id must be a uuid.UUID")
    _text(record.task_name, "task_name")
    _text(record.queue, "queue")
    _text(record.key, "key", optional=True)
    _text(record.limit_key, "limit_key", optional=True)
    if record.status not in _NEW_STATUSES:
        raise QueueConfigurationError(
            "a new task record's status must be 'pending' or 'scheduled': enqueue stores new records only"
        )
    _whole(record.priority, "priority", -MAX_PRIORITY, MAX_PRIORITY, "from -2**53 to 2**53")
    for option, value in (
        ("retries (max_retries)", record.max_retries),
        ("max_reclaims", record.max_reclaims),
        ("attempts", record.attempts),
        ("runs", record.runs),
        ("reclaims", record.reclaims),
    ):
        _whole(value, option, 0, MAX_COUNT, "from 0 to 2**53 - 1")
    timeout = record.timeout
    if timeout is not None and (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0 < timeout <= MAX_TIMEOUT  # NaN and infinities fail this too
    ):
        raise QueueConfigurationError(
            "timeout must be None or a finite number of seconds greater than 0 and at most 2**53"
        )
    run_at = record.run_at
    if not isinstance(run_at, datetime) or run_at.tzinfo is None:
        raise QueueConfigurationError(f"run_at must be a timezone-aware datetime {_RANGE}")
    check_time(run_at, "run_at")
    _moment(record.created_at, "created_at")
    _moment(record.started_at, "started_at", optional=True)
    _moment(record.finished_at, "finished_at", optional=True)
    _moment(record.lease_expires_at, "lease_expires_at", optional=True)
    for option in ("execution_backend", "execution_profile", "lease_id", "worker_id", "error"):
        if not isinstance(getattr(record, option), str | None):
            raise QueueConfigurationError(f"{option} must be a string or None")
    if not isinstance(record.args, list):
        raise SerializationError(f"a task's args must be a list: {_JSON_HINT}")
    if not isinstance(record.kwargs, dict):
        raise SerializationError(f"a task's kwargs must be a dict with str keys: {_JSON_HINT}")
    if not isinstance(record.metadata, dict):
        raise SerializationError(f"a task's metadata must be a dict with str keys: {_JSON_HINT}")


def check_outcome(outcome: Outcome) -> None:
    """Check an outcome's fields (its result is checked when it is encoded).

    Raises:
        QueueConfigurationError: A field is of the wrong type or outside what the backend can hold.
    """
    if not isinstance(outcome.task_id, UUID):
        raise QueueConfigurationError("an outcome's task_id must be a uuid.UUID")
    if not isinstance(outcome.lease_id, str):
        raise QueueConfigurationError("an outcome's lease_id must be a string")
    if outcome.kind not in _OUTCOME_KINDS:
        raise QueueConfigurationError("an outcome's kind must be 'complete', 'fail', 'retry' or 'release'")
    if outcome.error is not None and not isinstance(outcome.error, str):
        raise QueueConfigurationError("an outcome's error must be a string or None")
    _moment(outcome.run_at, "an outcome's run_at", optional=True)
    history = outcome.history
    if history is not None and (
        not isinstance(history, list) or not all(isinstance(a, AttemptRecord) for a in history)
    ):
        raise QueueConfigurationError("an outcome's history must be None or a list of AttemptRecord")


def encode_failure(what: str, exc: Exception) -> SerializationError:
    """The error for a value msgspec cannot encode (its message would repeat the value)."""
    return SerializationError(f"{what} cannot be stored as JSON ({type(exc).__name__}): {_JSON_HINT}")
