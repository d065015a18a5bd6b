"""What the SQL backend can hold, checked before any write so that a refusal is typed and clear.

PostgreSQL: ``integer`` columns (32 bits), no NUL character (U+0000) in ``text`` or ``jsonb``,
``queue`` and ``key`` are btree index keys (an index row holds about 2,700 bytes). SQLite:
64-bit integers. Both: text must be valid Unicode (no unpaired surrogate). The messages name
the field and the limit, never a value of the task's arguments or metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar_queues.exceptions import QueueConfigurationError, SerializationError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from litestar_queues.models import Outcome, TaskRecord

INDEXED_TEXT_BYTES = 2000
"""PostgreSQL: most UTF-8 bytes in a queue name, a dedup key or a limit key (btree index rows hold ~2,700)."""

_INT_RANGE = {"postgresql": (-(2**31), 2**31 - 1), "sqlite": (-(2**63), 2**63 - 1)}
_INT_FIELDS = {
    "priority": "priority",
    "max_retries": "retries",
    "max_reclaims": "max_reclaims (QueueConfig.max_reclaims)",
    "attempts": "attempts",
    "runs": "runs",
    "reclaims": "reclaims",
}
_TEXT_FIELDS = {
    "task_name": "the task name",
    "queue": "queue",
    "key": "key",
    "limit_key": "limit_key",
    "execution_backend": "execution_backend",
    "execution_profile": "execution_profile",
}
_INDEXED = ("queue", "key", "limit_key")
_PAYLOAD = ("args", "kwargs", "metadata")
_NUL = "\x00"
_NUL_IN_JSON = "\\u0000"
_DOCS = "see the Limits section of the SQL backend docs"


def _database(dialect: str) -> str:
    return "PostgreSQL" if dialect == "postgresql" else "SQLite"


def check_records(records: Sequence[TaskRecord], rows: Sequence[Mapping[str, Any]], dialect: str) -> None:
    """Refuse records the database cannot hold, before anything is written.

    Args:
        records: The records to store.
        rows: Their rows (:func:`~litestar_queues_sql._records.record_to_row`), JSON encoded.
        dialect: ``postgresql`` or ``sqlite``.

    Raises:
        QueueConfigurationError: An option (priority, retries, queue, key, ...) is out of range.
        SerializationError: The arguments or metadata hold a NUL character (PostgreSQL).
    """
    low, high = _INT_RANGE[dialect]
    postgres = dialect == "postgresql"
    for record, row in zip(records, rows, strict=True):
        for field, label in _INT_FIELDS.items():
            if not low <= getattr(record, field) <= high:
                raise QueueConfigurationError(
                    f"{label} of task {_name(record)} is out of range for the SQL queue backend on "
                    f"{_database(dialect)}: use a value from {low} to {high} ({_DOCS})"
                )
        for field, label in _TEXT_FIELDS.items():
            value = getattr(record, field)
            if value is not None:
                _check_text(record, field, label, value, postgres=postgres)
        if postgres:
            for field in _PAYLOAD:
                # the JSON text escapes NUL as \u0000; confirm on the value (a literal backslash
                # followed by u0000 is text the database accepts)
                if _NUL_IN_JSON in row[field] and (where := _nul_at(field, getattr(record, field))):
                    raise SerializationError(
                        f"{where} of task {_name(record)} contains a NUL character (U+0000), which "
                        "PostgreSQL cannot store in text or jsonb: remove it, or encode the value "
                        f"(for example base64) before enqueueing ({_DOCS})"
                    )


def _name(record: TaskRecord) -> str:
    return repr(record.task_name)  # repr escapes NUL and surrogates


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(record: TaskRecord, field: str, label: str, value: str, *, postgres: bool) -> None:
    # the value itself is left out of every message: a key or queue may be built from arguments
    if not _is_unicode(value):
        raise QueueConfigurationError(
            f"{label} of task {_name(record)} contains an unpaired surrogate, which is not valid "
            "Unicode text and cannot be stored: pass text that encodes to UTF-8"
        )
    if not postgres:
        return
    if _NUL in value:
        raise QueueConfigurationError(
            f"{label} of task {_name(record)} contains a NUL character (U+0000), which PostgreSQL "
            f"cannot store in text: remove it ({_DOCS})"
        )
    if field in _INDEXED and (size := len(value.encode("utf-8"))) > INDEXED_TEXT_BYTES:
        raise QueueConfigurationError(
            f"{label} of task {_name(record)} is {size} bytes in UTF-8, over the limit of "
            f"{INDEXED_TEXT_BYTES} bytes on PostgreSQL (it is an index key): use a shorter one, "
            f"for example a hash of it ({_DOCS})"
        )


def _nul_at(field: str, value: Any) -> str | None:
    """Where the first NUL character of a payload field is: a top-level position or name only."""
    items: Any = enumerate(value) if isinstance(value, list) else value.items()
    for name, item in items:
        if isinstance(name, str) and _NUL in name:
            return f"a key of {field}"
        if _has_nul(item):
            if field == "args":
                return f"argument {name} (args[{name}])"
            return f"{field} key {name!r}" if field == "metadata" else f"keyword argument {name!r}"
    return None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return _NUL in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_NUL in key or _has_nul(item) for key, item in value.items())
    return False


def check_claim(queues: Sequence[str] | None, worker_id: str, dialect: str) -> None:
    """Refuse a worker id or queue names PostgreSQL cannot compare (a NUL character).

    Raises:
        QueueConfigurationError: ``worker_id`` or a queue name holds a NUL character.
    """
    if dialect == "postgresql" and (_NUL in worker_id or any(_NUL in q for q in queues or ())):
        raise QueueConfigurationError(
            "a worker id or queue name contains a NUL character (U+0000), which PostgreSQL cannot "
            "hold: remove it from WorkerConfig (worker_id, queues)"
        )


def check_names(dialect: str, **names: str) -> None:
    """Refuse a queue, duty or holder name the database cannot store as a key.

    Args:
        dialect: ``postgresql`` or ``sqlite``.
        names: The names by what they name (``queue=...``, ``duty=...``).

    Raises:
        QueueConfigurationError: A name is not valid Unicode, or (PostgreSQL) holds a NUL
            character or is longer than :data:`INDEXED_TEXT_BYTES` in UTF-8.
    """
    for label, value in names.items():
        if not _is_unicode(value):
            raise QueueConfigurationError(f"the {label} name contains an unpaired surrogate: pass valid text")
        if dialect != "postgresql":
            continue
        if _NUL in value:
            raise QueueConfigurationError(
                f"the {label} name contains a NUL character (U+0000), which PostgreSQL cannot store ({_DOCS})"
            )
        if (size := len(value.encode("utf-8"))) > INDEXED_TEXT_BYTES:
            raise QueueConfigurationError(
                f"the {label} name is {size} bytes in UTF-8, over the limit of {INDEXED_TEXT_BYTES} "
                f"bytes on PostgreSQL (it is an index key) ({_DOCS})"
            )


def safe_text(text: str) -> str:
    """Text any supported database stores: NUL and unpaired surrogates become U+FFFD."""
    if _NUL in text:
        text = text.replace(_NUL, "\ufffd")
    if not _is_unicode(text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def storable_outcome(outcome: Outcome, result_json: str, dialect: str) -> tuple[str, str | None, str]:
    """The kind, error text and result JSON under which ``finish`` can store an outcome.

    A task's error text may hold anything an exception message holds: NUL characters and
    unpaired surrogates are replaced. A result PostgreSQL cannot hold (a NUL character in a
    string) fails the task with an error saying so, instead of failing the whole batch of
    outcomes again and again.
    """
    error = None if outcome.error is None else safe_text(outcome.error)
    if (
        dialect == "postgresql"
        and outcome.kind == "complete"
        and _NUL_IN_JSON in result_json
        and _has_nul(outcome.result)
    ):
        return (
            "fail",
            "the task's result contains a NUL character (U+0000), which PostgreSQL cannot store: "
            "return the value without it, or encoded (for example base64)",
            "null",
        )
    return outcome.kind, error, result_json
