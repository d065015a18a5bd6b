"""Key names of one backend: every key carries the hash tag ``{prefix}`` (one cluster slot)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID


class Keys:
    """Builds the key names under one prefix (mirrors ``rkey``/``qkey`` in ``lua/common.lua``)."""

    __slots__ = ("prefix", "tag")

    def __init__(self, prefix: str) -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise QueueConfigurationError(
                "key_prefix must be a non-empty string without braces: the backend wraps it in a "
                "{...} hash tag itself"
            )
        self.prefix = prefix
        self.tag = "{" + prefix + "}"

    def record(self, task_id: UUID | str) -> str:
        """The hash holding one task record."""
        return f"{self.tag}:t:{task_id}"

    def queue(self, queue: str, name: str) -> str:
        """A per-queue structure: ``ready``, ``delayed``, ``leases``, ``wake``, a retention set."""
        return f"{self.tag}:q:{queue}:{name}"

    def index(self, queue: str, status: str) -> str:
        """The listing index of one queue and status (members: ``listing_position`` of each record)."""
        return f"{self.tag}:q:{queue}:index_{status}"

    def key_index(self, key: str) -> str:
        """The index of one dedup key: the ``listing_position`` of each record holding that key."""
        return f"{self.tag}:keyix:{key}"

    @property
    def index_version(self) -> str:
        """Set once every record written before the listing indexes is in them (the backfill ran)."""
        return f"{self.tag}:index_version"

    @property
    def limits(self) -> str:
        """The hash of the queues' limits: queue -> ``"concurrency rate per key_concurrency"``."""
        return f"{self.tag}:limits"

    def bucket(self, queue: str) -> str:
        """The hash of a rate-limited queue's token bucket: ``tokens`` and ``at`` (µs)."""
        return self.queue(queue, "bucket")

    def limit_key_running(self, queue: str, limit_key: str) -> str:
        """The set of the running records of ``queue`` with ``limit_key`` (mirrors ``lkkey`` in Lua)."""
        return f"{self.tag}:lk:{len(queue)}:{queue}:{limit_key}"

    @property
    def paused(self) -> str:
        """The set of the paused queues' names (``claim.lua`` skips them)."""
        return f"{self.tag}:paused"

    def finished(self, queue: str, status: str) -> str:
        """The finish-time set of one queue and finished status (members scored by ``finished_at``)."""
        return f"{self.tag}:q:{queue}:finished_{status}"

    @property
    def workers(self) -> str:
        """The hash of the workers' presences: worker id -> JSON of its ``WorkerInfo``."""
        return f"{self.tag}:workers"

    @property
    def workers_expiry(self) -> str:
        """The sorted set of the workers' ids, scored by the expiry of their presence (µs)."""
        return f"{self.tag}:workers:expiry"

    def turn(self, duty: str) -> str:
        """The hash of one duty's turn: its ``holder`` and the end of its turn, ``until`` (µs)."""
        return f"{self.tag}:turn:{duty}"

    def schedule(self, name: str) -> str:
        """The hash of one schedule's state (``next_fire``, ``paused``, ``last_fire``, ...)."""
        return f"{self.tag}:schedule:{name}"

    @property
    def schedules(self) -> str:
        """The set of the names of the stored schedule states."""
        return f"{self.tag}:schedules"

    def dead_schedule(self, name: str) -> str:
        """Where a malformed schedule state is moved."""
        return f"{self.tag}:dead:schedule:{name}"

    @property
    def records_pattern(self) -> str:
        """A ``SCAN`` pattern matching every record key of this prefix (glob characters escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in self.tag)
        return f"{escaped}:t:*"

    def wake_lists(self, queues: Sequence[str] | None) -> list[str]:
        """The wake-up lists an idle worker serving ``queues`` blocks on."""
        if queues is None:
            return [f"{self.tag}:wake"]
        return [self.queue(q, "wake") for q in queues]

    def cancels(self, worker_id: str) -> str:
        """The list of a worker's running records cancelled since it last looked (``wait_for_cancel``)."""
        return f"{self.tag}:cancels:{worker_id}"

    def done_channel(self, task_id: UUID | str) -> str:
        """The pub/sub channel announcing that a record became terminal."""
        return f"{self.tag}:done:{task_id}"

    @property
    def dead(self) -> str:
        """The hash of dead letters: task id -> JSON ``{"error": ..., "key": ...}``."""
        return f"{self.tag}:dead"

    def dead_record(self, task_id: UUID | str) -> str:
        """Where a malformed record's raw key is moved."""
        return f"{self.tag}:dead:{task_id}"
