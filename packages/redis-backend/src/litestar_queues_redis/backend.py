"""The Redis / Valkey queue backend: every state change is one atomic Lua script."""

from __future__ import annotations

import functools
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import msgspec
from redis.asyncio.cluster import RedisCluster

from litestar_queues.exceptions import MalformedRecordError, QueueConfigurationError
from litestar_queues.models import ALL_STATUSES, EnqueueResult, WorkerInfo
from litestar_queues.ports import BackendReach
from litestar_queues.serialization import decode_record
from litestar_queues_redis._codec import (
    decode_limit,
    decode_reply,
    decode_schedule,
    encode_limit,
    is_buried,
    listing_position,
    outcome_args,
    record_args,
    to_us,
)
from litestar_queues_redis._direct import DirectLine
from litestar_queues_redis._errors import mapped_errors
from litestar_queues_redis._keys import Keys
from litestar_queues_redis._limits import check_record
from litestar_queues_redis._listing import DELETE_CHUNK, QUERY_BUDGET, query_filters, query_range
from litestar_queues_redis._scripts import Scripts
from litestar_queues_redis._url import check_options, connect, parse_ttl, split_url
from litestar_queues_redis._waiting import FinishWaiter, decode_done

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from datetime import datetime
    from uuid import UUID

    import redis.asyncio as aioredis

    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import Outcome, RecordQuery, ScheduleState, TaskRecord

__all__ = ("RedisQueueBackend",)

logger = logging.getLogger("litestar_queues.redis")

DEFAULT_RESULT_TTL: float | None = None
"""Seconds a finished (completed, failed, cancelled) record is kept by Redis: ``None``, forever.

The core prunes finished records itself (a sweep calling :meth:`RedisQueueBackend.delete` per
status); ``result_ttl`` is a server-side expiry on top of it, for those who want one.
"""

_ENQUEUE_CHUNK = 500
_BACKFILL_CHUNK = 200
INDEX_VERSION = "3"
"""The value of ``{prefix}:index_version`` once the indexes hold every record.

``1``: the listing indexes; ``2``: also the key indexes (``{prefix}:keyix:<key>``); ``3``: also the
finish-time sets (``{prefix}:q:<queue>:finished_<status>``). ``lua/store.lua`` writes it on a new
prefix: keep both equal.
"""


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class RedisQueueBackend:
    """Stores task records in Redis or Valkey (6.2 or newer).

    Every change (enqueue with dedup, claim, lease extension, finish, reclaim, cancel, requeue,
    delete, pause, duty turns, schedule states) is one Lua script, so it is atomic on the server
    and costs one round trip however many records it touches (a large delete or listing: a few).
    Idle workers block on a wake-up list and wake as soon as work is enqueued; waiting for a
    result subscribes to the record's completion channel.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS) or
            ``unix:///path/to/redis.sock?db=0``. Query parameters are passed to redis-py
            (``ssl_cert_reqs``, ``socket_timeout``, ...), except this backend's own options
            ``key_prefix`` and ``result_ttl``.
        client: A ``redis.asyncio.Redis`` (or ``RedisCluster``) client to use instead of a URL
            (not closed by :meth:`close`). Its socket timeout must be longer than the workers'
            poll interval.
        key_prefix: Prefix of every key (default ``"lq"``, or the URL's ``key_prefix``). Keys
            are ``{prefix}:...``: the hash tag puts a backend's keys in one cluster slot.
        result_ttl: Seconds after which Redis expires a finished record (the URL's
            ``result_ttl``, or ``None``, the default: kept until the core's retention sweep
            deletes it).
        socket_timeout: Socket timeout of the command connections in seconds.

    Raises:
        QueueConfigurationError: Neither or both of ``url`` and ``client`` are given, or an
            option is invalid.
    """

    __slots__ = (
        "_blocking",
        "_client",
        "_finish_waiter",
        "_keys",
        "_line",
        "_owns_clients",
        "_route",
        "_scripts",
        "_token_due",
        "_ttl_ms",
        "_url",
        "_waits",
        "_where",
        "reach",
        "result_ttl",
        "socket_timeout",
    )

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | RedisCluster | None = None,
        key_prefix: str | None = None,
        result_ttl: float | str | None = DEFAULT_RESULT_TTL,
        socket_timeout: float = 10.0,
    ) -> None:
        if (url is None) == (client is None):
            raise QueueConfigurationError("RedisQueueBackend needs exactly one of url= and client=")
        check_options(url, socket_timeout)
        self._url: str | None = None
        self._where = _address(url) if url is not None else None
        # a server behind a unix socket is reachable from this machine only
        self.reach = (
            BackendReach.HOST if url is not None and url.lower().startswith("unix:") else BackendReach.NETWORK
        )
        """Which processes see the records (``NETWORK``; ``HOST`` for a unix socket URL)."""
        prefix = key_prefix
        ttl = parse_ttl(result_ttl)
        if url is not None:
            options = split_url(url)
            self._url = options.redis_url
            prefix = prefix or options.key_prefix
            if options.has_result_ttl:
                ttl = options.result_ttl
        self._keys = Keys(prefix or "lq")
        self._route = [self._keys.tag + ":queues"]
        self.result_ttl = ttl
        self._ttl_ms = "0" if ttl is None else str(max(1, round(ttl * 1000)))
        self.socket_timeout = socket_timeout
        self._owns_clients = client is None
        self._client: aioredis.Redis | RedisCluster | None = client
        self._blocking: aioredis.Redis | RedisCluster | None = client
        self._scripts: Scripts | None = None
        # the scripts and the idle wait on connections of their own (clients opened from the URL)
        self._line: DirectLine | None = None
        self._waits: DirectLine | None = None
        self._finish_waiter: FinishWaiter | None = None
        # when a record a claim held back for want of a token may start (time.monotonic)
        self._token_due: float | None = None

    def __repr__(self) -> str:
        return f"<RedisQueueBackend prefix={self._keys.prefix!r}>"

    @property
    def key_prefix(self) -> str:
        """The prefix of every key (inside the ``{...}`` hash tag)."""
        return self._keys.prefix

    @property
    def keys(self) -> Keys:
        """The key names used by this backend."""
        return self._keys

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (checking the server answers), register the scripts, and backfill once.

        The first ``open`` on a prefix whose records were written before the indexes existed (no
        ``{prefix}:index_version`` key, or an older version than :data:`INDEX_VERSION`, but a
        queue) indexes them first: :meth:`backfill_index`. On a new prefix it writes nothing: the
        first enqueue sets the key.

        Raises:
            BackendUnavailableError: The server cannot be reached.
            QueueConfigurationError: The URL is invalid.
        """
        if self._url is not None and self._client is None:
            self._client = connect(self._url, self.socket_timeout)
            self._blocking = connect(self._url, None)
            self._line = DirectLine(self._client.connection_pool, self.socket_timeout)
            self._waits = DirectLine(self._blocking.connection_pool, None, most=2)
        assert self._client is not None and self._blocking is not None
        self._scripts = Scripts(self._client, self._line)
        self._finish_waiter = FinishWaiter(self._blocking)
        with mapped_errors(self._where):
            await self._client.ping()
            version = await self._client.get(self._keys.index_version)
            if _text(version or b"") == INDEX_VERSION or not await self._client.exists(
                self._keys.tag + ":queues"
            ):
                return
            await self.backfill_index()
            await self._client.set(self._keys.index_version, INDEX_VERSION)

    async def close(self) -> None:
        """Close the connections this backend opened (a passed-in client stays open)."""
        if self._finish_waiter is not None:
            await self._finish_waiter.close()
        for line in (self._line, self._waits):
            if line is not None:
                await line.close()
        self._line = self._waits = None
        if self._owns_clients:
            for client in (self._client, self._blocking):
                if client is not None:
                    await client.aclose()
            self._client = self._blocking = None

    @property
    def _s(self) -> Scripts:
        if self._scripts is None:
            raise QueueConfigurationError("RedisQueueBackend is not open: call open() first")
        return self._scripts

    async def _run(self, script: Any, args: list[Any]) -> Any:
        with mapped_errors(self._where):
            return await script(keys=self._route, args=[self._keys.tag, *args])

    # -- decoding and dead letters --------------------------------------------------------------

    def _log_buried(self, task_id: bytes | str, reason: bytes | str) -> None:
        message = "task record %s is malformed and was moved to %s: %s"
        logger.error(message, _text(task_id), self._keys.dead, _text(reason))

    async def _decode(self, reply: Any) -> TaskRecord | None:
        """Decode a reply; a malformed record is dead-lettered and ``None`` returned.

        A record the script found malformed is already buried (atomically, by that script); one
        whose JSON only the client can judge is buried here, in the same operation.
        """
        if is_buried(reply):
            self._log_buried(reply[1], reply[2])
            return None
        try:
            return decode_reply(reply)
        except MalformedRecordError as exc:
            self._log_buried(reply[0], str(exc))
            await self._run(self._s.bury, [_text(reply[0]), str(exc)])
            return None

    async def _decode_strict(self, reply: Any) -> TaskRecord | None:
        if not reply:
            return None
        record = await self._decode(reply)
        if record is None:
            raise MalformedRecordError(
                "the stored task record is malformed and was moved to the dead letters: "
                "backend.dead_letters() lists it with the reason (docs/redis.md, Dead letters)"
            )
        return record

    async def _decode_all(self, replies: Sequence[Any]) -> list[TaskRecord]:
        return [record for reply in replies if (record := await self._decode(reply)) is not None]

    # -- writes ---------------------------------------------------------------------------------

    async def enqueue(self, records: Sequence[TaskRecord]) -> list[EnqueueResult]:
        """Store records in order (one script call per 500 records, one round trip in all).

        A record whose dedup key an active record holds is not stored; that record is returned.
        Every record is checked before anything is written: one bad record stores none.

        Raises:
            QueueConfigurationError: A field is outside what the backend can hold (the message
                names the option and its limit; ``docs/redis.md``, section Limits, lists them).
            SerializationError: The arguments, keyword arguments or metadata cannot be stored
                as JSON.
        """
        if not records:
            return []
        for record in records:
            check_record(record)
        chunks = [records[i : i + _ENQUEUE_CHUNK] for i in range(0, len(records), _ENQUEUE_CHUNK)]
        payloads = [[self._keys.tag, str(len(c)), *(a for r in c for a in record_args(r))] for c in chunks]
        with mapped_errors(self._where):
            if len(chunks) == 1 or isinstance(self._client, RedisCluster):
                # cluster pipelines refuse EVALSHA: one call per chunk, in order
                replies = [await self._s.enqueue(keys=self._route, args=payload) for payload in payloads]
            else:
                assert self._client is not None
                async with self._client.pipeline(transaction=False) as pipe:
                    for payload in payloads:
                        await self._s.enqueue(keys=self._route, args=payload, client=pipe)
                    replies = await pipe.execute()
        results: list[EnqueueResult] = []
        for chunk, chunk_replies in zip(chunks, replies, strict=True):
            for record, reply in zip(chunk, chunk_replies, strict=True):
                if reply[0] == 1:
                    results.append(EnqueueResult(record=record, created=True))
                    continue
                stored = await self._decode(reply[1])
                if stored is None:  # the holder was malformed and is gone: store again
                    (result,) = await self.enqueue([record])
                    results.append(result)
                else:
                    results.append(EnqueueResult(record=stored, created=stored.id == record.id))
        return results

    async def claim(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[TaskRecord]:
        """Claim up to ``limit`` due records in one round trip (promoting due delayed ones).

        The queues' limits apply in the same script (``lua/claim.lua``, ``lua/limits.lua``).
        """
        if limit <= 0:
            return []
        names = [] if queues is None else list(queues)
        if queues is not None and not names:
            return []
        # one random read for every lease id (32 hex digits each) instead of one per id
        pool = os.urandom(16 * limit).hex()
        leases = [pool[i : i + 32] for i in range(0, 32 * limit, 32)]
        times = [to_us(now, "now"), to_us(lease_until, "lease_until")]
        args = [*times, worker_id, str(limit), str(len(names)), *names, *leases]
        replies = list(await self._run(self._s.claim, args))
        self._note_token_wait(replies)
        return await self._decode_all(replies)

    def _note_token_wait(self, replies: list[Any]) -> None:
        """Take the claim's last reply ``{'~', µs}`` (a record held back for want of a token), if any.

        ``wait_for_work`` then ends when the token is due.
        """
        last = replies[-1] if replies else None
        if isinstance(last, list) and len(last) == 2 and _text(last[0]) == "~":
            replies.pop()
            self._token_due = time.monotonic() + int(last[1]) / 1_000_000
        else:
            self._token_due = None

    async def claim_task(
        self, task_id: UUID, *, worker_id: str, now: datetime, lease_until: datetime
    ) -> TaskRecord | None:
        """Claim one pending or scheduled record by id, due or not."""
        args = [
            str(task_id),
            to_us(now, "now"),
            to_us(lease_until, "lease_until"),
            worker_id,
            uuid.uuid4().hex,
        ]
        reply = await self._run(self._s.claim_task, args)
        if isinstance(reply, list):
            held = [reply]
            self._note_token_wait(held)  # held back for want of a token: reply {'~', µs}
            if not held:
                return None
        return await self._decode(reply) if reply else None

    async def extend_leases(self, leases: Sequence[tuple[UUID, str]], *, until: datetime) -> set[UUID]:
        """Extend held leases to ``until`` in one call; return the ids no longer held.

        A malformed record among them is moved to the dead letters and counted as lost.
        """
        if not leases:
            return set()
        pairs = (v for task_id, lease in leases for v in (str(task_id), lease))
        args = [to_us(until, "until"), str(len(leases)), *pairs]
        lost: set[UUID] = set()
        for entry in await self._run(self._s.extend, args):
            if isinstance(entry, list):  # {'!', id, reason}: buried by the script
                self._log_buried(entry[1], entry[2])
                entry = entry[1]
            lost.add(uuid.UUID(_text(entry)))
        return lost

    async def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[TaskRecord | None]:
        """Apply a batch of outcomes in one call, each only under its lease.

        A malformed record is moved to the dead letters; its outcome reads as rejected (``None``).

        Raises:
            QueueConfigurationError: An outcome's field is of the wrong type or out of range.
            SerializationError: A result cannot be stored as JSON (nothing is written).
        """
        if not outcomes:
            return []
        args = [
            to_us(now, "now"),
            self._ttl_ms,
            str(len(outcomes)),
            *(a for o in outcomes for a in outcome_args(o)),
        ]
        replies = await self._run(self._s.finish, args)
        return [await self._decode(reply) if reply else None for reply in replies]

    async def reclaim_expired(self, *, now: datetime) -> list[TaskRecord]:
        """Return records whose lease expired before ``now`` to their queue, or fail them."""
        return await self._decode_all(await self._run(self._s.reclaim, [to_us(now, "now"), self._ttl_ms]))

    async def requeue(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Put a failed or cancelled record back in its queue, in one script.

        It becomes pending (due at ``now``, at its original place in the enqueue order), holds its
        dedup key again, leaves the failed or cancelled set and its listing index for the pending
        one, and is kept until it finishes again (its retention TTL is removed). A record in any
        other status, or whose key another active record holds meanwhile, is returned unchanged.

        Raises:
            MalformedRecordError: The stored record was malformed (it is dead-lettered).
        """
        reply = await self._run(self._s.requeue, [str(task_id), to_us(now, "now")])
        return await self._decode_strict(reply)

    async def cancel(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Cancel a record that is not terminal yet; a terminal one is returned unchanged.

        Raises:
            MalformedRecordError: The stored record was malformed (it is dead-lettered).
        """
        reply = await self._run(self._s.cancel, [str(task_id), to_us(now, "now"), self._ttl_ms])
        return await self._decode_strict(reply)

    async def set_paused(self, queue: str, *, paused: bool) -> None:
        """Pause ``queue`` (claims skip it from now on) or resume it and wake its workers.

        The paused queues are the set ``{prefix}:paused``, which the claim script reads in the
        same atomic step as it claims: a claim that starts after this call returned hands out no
        record of a paused queue. A resume that unpauses the queue pushes its wake-up tokens, as
        an enqueue does. ``claim_task`` (a claim by id) ignores the pause.
        """
        await self._run(self._s.pause, [queue, "1" if paused else "0"])

    async def paused_queues(self) -> set[str]:
        """The names of the queues paused now."""
        assert self._client is not None
        with mapped_errors(self._where):
            return {_text(name) for name in await self._client.smembers(self._keys.paused)}

    async def set_limit(self, queue: str, limit: QueueLimit | None) -> None:
        """Store, replace or remove the limit of ``queue`` (``lua/limit.lua``), and wake its workers.

        The token bucket stays while the queue keeps a rate. Every claim that starts after this
        returns applies it.

        Raises:
            QueueConfigurationError: ``queue`` is not a non-empty string.
        """
        if not isinstance(queue, str) or not queue:
            raise QueueConfigurationError("a limit's queue must be a non-empty string")
        await self._run(self._s.limit, [queue, "" if limit is None else encode_limit(limit)])

    async def limits(self) -> dict[str, QueueLimit]:
        """The stored limit of every queue that has one (one ``HGETALL``).

        Raises:
            QueueLimitError: A stored limit is invalid (written behind the backend's back).
        """
        assert self._client is not None
        with mapped_errors(self._where):
            raw = await self._client.hgetall(self._keys.limits)
        return {_text(queue): decode_limit(_text(queue), value) for queue, value in raw.items()}

    async def take_turn(self, duty: str, *, holder: str, now: datetime, until: datetime) -> bool:
        """Take ``duty`` until ``until`` unless another holder's turn is live, in one script.

        A compare-and-set on the hash ``{prefix}:turn:<duty>`` (holder, end of the turn in
        microseconds), judged with the caller's times only. The key expires a little after the
        turn ends, as a safety net: the stored end decides.

        Returns:
            Whether ``holder`` holds the duty until ``until`` now.
        """
        args = [duty, holder, to_us(now, "now"), to_us(until, "until")]
        return bool(await self._run(self._s.turn, args))

    # -- operators' reads: presences, finished counts -------------------------------------------

    async def record_worker(self, info: WorkerInfo) -> None:
        """Store the worker's presence in one script, dropping presences expired by ``info.seen_at``.

        The presence is JSON in the hash ``{prefix}:workers``; its expiry scores the worker's id
        in ``{prefix}:workers:expiry``, from which the script drops (up to 100 per call) the
        workers whose presence expired by ``info.seen_at``, with their JSON: the two keys hold
        about one entry per live worker.

        Raises:
            QueueConfigurationError: A time lies outside the range the backend stores.
        """
        args = [
            info.worker_id,
            msgspec.json.encode(info),
            to_us(info.expires_at, "expires_at"),
            to_us(info.seen_at, "seen_at"),
        ]
        await self._run(self._s.worker, args)

    async def live_workers(self, *, now: datetime) -> list[WorkerInfo]:
        """The presences with ``expires_at`` after ``now`` (one script), by ``(started_at, worker_id)``.

        A presence whose JSON cannot be decoded (written behind the backend's back) is left out,
        with a warning.
        """
        found: list[WorkerInfo] = []
        for raw in await self._run(self._s.workers, [to_us(now, "now")]):
            try:
                found.append(msgspec.json.decode(raw, type=WorkerInfo))
            except msgspec.DecodeError as exc:
                logger.warning(
                    "a worker presence in %s cannot be decoded, left out: %s", self._keys.workers, exc
                )
        found.sort(key=lambda info: (info.started_at, info.worker_id))
        return found

    async def forget_worker(self, worker_id: str) -> None:
        """Remove the presence of ``worker_id`` (a clean stop)."""
        await self._run(self._s.forget, [worker_id])

    async def finished_counts(self, *, since: datetime) -> dict[str, dict[str, int]]:
        """Count records finished at or after ``since`` per queue and status, in one script.

        One ``ZCOUNT`` of each queue's finish-time set per finished status
        (``{prefix}:q:<queue>:finished_<status>``, scored by ``finished_at``): the cost follows
        the number of queues, not of records. Records whose ``result_ttl`` ended are forgotten
        first (up to 1,000 per set), as :meth:`counts` does.
        """
        flat = await self._run(self._s.finished, [to_us(since, "since")])
        counts: dict[str, dict[str, int]] = {}
        for i in range(0, len(flat), 3):
            counts.setdefault(_text(flat[i]), {})[_text(flat[i + 1])] = int(flat[i + 2])
        return counts

    # -- schedules ------------------------------------------------------------------------------

    def _log_schedule_notices(self, notices: Sequence[Any]) -> None:
        """Log the malformed schedule states a script moved aside (``{'!', name, reason}``)."""
        for notice in notices:
            name = _text(notice[1])
            message = "the stored state of schedule %s is malformed and was moved to %s: %s"
            logger.error(message, name, self._keys.dead_schedule(name), _text(notice[2]))

    async def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        """Move the schedule ``name`` on to ``next_fire`` if it still fires at ``expected``: one script.

        ``lua/schedule.lua`` compares the stored ``next_fire`` (integer microseconds) with
        ``expected`` and, when they are equal (or, with ``expected=None``, no state is stored),
        writes the state and stores a fire's ``record`` with the enqueue script's own code
        (``lua/store.lua``: dedup key, listing index, wake-up tokens), all in one atomic step. The
        record is checked first, as :meth:`enqueue` checks it: a bad record changes nothing.

        When the record holding the fire's key turns out malformed in a way only the client can
        see (its JSON), it is moved to the dead letters, the fire's record is enqueued after all,
        and the state names it.

        Raises:
            QueueConfigurationError: A time lies outside the range the backend stores, the name
                is not a string, or a field of ``record`` is outside what the backend can hold.
            SerializationError: The record's content cannot be stored as JSON.
        """
        args: list[str | bytes] = [
            _schedule_name(name),
            "" if expected is None else to_us(expected, "expected"),
            to_us(next_fire, "next_fire"),
            to_us(now, "now"),
        ]
        if record is not None:
            check_record(record)
            args += record_args(record)
        notices, reply, holder = await self._run(self._s.schedule, args)
        self._log_schedule_notices(notices)
        if not reply:
            return None
        state = decode_schedule(reply, name)
        if holder and record is not None and await self._decode(holder) is None:
            # the holder is in the dead letters now, and the key free: the fire is enqueued anyway
            (result,) = await self.enqueue([record])
            stored = result.record.id
            notices, _ = await self._run(self._s.schedule_note, [name, _text(holder[0]), str(stored)])
            self._log_schedule_notices(notices)
            state = msgspec.structs.replace(state, last_task_id=stored)
        return state

    async def set_schedule_paused(self, name: str, *, paused: bool, now: datetime) -> ScheduleState | None:
        """Pause or resume the schedule ``name`` (``None``: no state is stored), in one script."""
        args = [_schedule_name(name), "1" if paused else "0", to_us(now, "now")]
        notices, reply = await self._run(self._s.schedule_pause, args)
        self._log_schedule_notices(notices)
        return decode_schedule(reply, name) if reply else None

    async def delete_schedule(self, name: str) -> bool:
        """Delete the state of the schedule ``name`` and its name; the records it enqueued stay."""
        return bool(await self._run(self._s.schedule_delete, [_schedule_name(name)]))

    # -- reads ----------------------------------------------------------------------------------

    async def schedule_states(self) -> list[ScheduleState]:
        """Every stored schedule state, sorted by name (one script call).

        A state damaged behind the backend's back is moved aside (and logged), and left out: the
        next scheduler creates it afresh.
        """
        notices, replies = await self._run(self._s.schedule_states, [])
        self._log_schedule_notices(notices)
        return sorted((decode_schedule(reply) for reply in replies), key=_state_name)

    async def get(self, task_id: UUID) -> TaskRecord | None:
        """Load one record.

        Raises:
            MalformedRecordError: The stored record was malformed (it is dead-lettered).
        """
        return await self._decode_strict(await self._run(self._s.get, [str(task_id)]))

    async def query(self, query: RecordQuery) -> list[TaskRecord]:
        """List the records matching ``query`` in ``(created_at, id)`` order, from its position on.

        Reads the listing indexes of the queues and statuses asked for (every one when not
        filtered), merged in order and from the keyset position on, with ``ZRANGEBYLEX``; the
        ``created_*`` bounds are the ends of that range. With ``key`` it reads the key's own index
        (``{prefix}:keyix:<key>``, the records holding that key) instead of the listing indexes,
        so it costs the key's records, not the store's. Task names, ``finished_*`` bounds (and
        with a key, queues and statuses) are checked on the records met. Each script call reads
        at most ``QUERY_BUDGET`` index entries and returns at most as many records; the client
        calls again from where it stopped until the page is full or the range ends. A malformed
        record met is moved to the dead letters and left out.
        """
        found: list[TaskRecord] = []

        async def take(page: list[Any]) -> int:
            # the script applied every filter (exactly: times as integer microseconds, a naive
            # created_at as UTC); a record only the client finds malformed is left out
            records = await self._decode_all(page[0])
            found.extend(records)
            return len(records)

        await self._select(self._s.query, query, take, QUERY_BUDGET)
        return found[: query.limit]

    async def delete(self, query: RecordQuery) -> list[UUID]:
        """Delete the records :meth:`query` would list for ``query``, except running ones.

        Each script call selects like ``query`` (the same code, ``lua/select.lua``) and deletes what
        it selected in the same atomic step, the status read there: the record's hash, its listing,
        ready or delayed and retention entries, and its dedup key when it holds it. A running record
        counts towards ``query.limit`` (``query`` lists it) but stays. Calls follow each other like
        those of :meth:`query`: each selects at most ``DELETE_CHUNK`` (200) records and reads at most
        ``QUERY_BUDGET`` index entries, so none holds the server for more than a few milliseconds.

        Returns:
            The ids deleted, in the query's order.
        """
        deleted: list[UUID] = []

        async def take(page: list[Any]) -> int:
            ids, selected = page
            deleted.extend(uuid.UUID(_text(task_id)) for task_id in ids)
            return int(selected)

        await self._select(self._s.delete, query, take, DELETE_CHUNK)
        return deleted

    async def _select(
        self, script: Any, query: RecordQuery, take: Callable[[list[Any]], Awaitable[int]], chunk: int
    ) -> None:
        """Run a ``select.lua`` script from the query's position until ``take`` counted its limit.

        Each call selects at most ``chunk`` records and reads at most ``QUERY_BUDGET`` entries.
        Each reply ends with the buried records' notices, the last entry read and whether the
        range ended; ``take`` gets what comes before and returns how many records count towards
        the limit.
        """
        if query.limit <= 0 or any(
            names is not None and not names for names in (query.queues, query.statuses, query.task_names)
        ):
            return
        order, start, stop = query_range(query)
        begin: str | bytes = start
        filters = query_filters(query)
        taken = 0
        while True:
            need = query.limit - taken
            args = [order, begin, stop, str(min(need, chunk)), str(QUERY_BUDGET), *filters]
            *page, buried, last, ended = await self._run(script, args)
            for notice in buried:
                self._log_buried(notice[1], notice[2])
            taken += await take(page)
            if ended or last is None or taken >= query.limit:
                return
            begin = b"(" + last

    async def backfill_index(self) -> int:
        """Put every record in the listing index of its status; return how many were listed or moved.

        :meth:`open` runs it once per prefix (while ``{prefix}:index_version`` is missing or older),
        so records written before the listing indexes existed are listed, and keyed records
        written before the key indexes existed are put in the index of their key. Run it again after a
        rolling upgrade, when processes of an older version wrote or changed records meanwhile:
        it lists the records they wrote and moves the entries they left in the index of a
        former status (a listing that meets such an entry moves it too). It walks the record keys
        with ``SCAN``, decodes each record without a listing position in the client (to read its
        ``created_at``), and checks 200 records per script call, each as it is at that moment.
        A malformed record is moved to the dead letters. Records already in place are left
        alone, so running it again changes nothing.
        """
        assert self._client is not None
        batch: list[str] = []
        listed = 0
        with mapped_errors():
            async for key in self._client.scan_iter(match=self._keys.records_pattern, count=1000):
                batch.append(_text(key))
                if len(batch) == _BACKFILL_CHUNK:
                    listed += await self._backfill(batch)
                    batch = []
            if batch:
                listed += await self._backfill(batch)
        if listed:
            logger.info("listed or moved %d task records in the listing indexes", listed)
        return listed

    async def _backfill(self, keys: list[str]) -> int:
        assert self._client is not None
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, "ix")
            positions = await pipe.execute(raise_on_error=False)
        old = [key for key, ix in zip(keys, positions, strict=True) if ix is None]
        async with self._client.pipeline(transaction=False) as pipe:
            for key in old:
                pipe.hget(key, "rec")
            recs = dict(zip(old, await pipe.execute(raise_on_error=False), strict=True))
        args: list[str] = []
        for key in keys:
            task_id = key.rsplit(":", 1)[1]
            rec = recs.get(key)
            if rec is None or isinstance(rec, Exception):  # listed, or only the script can judge it
                args += [task_id, "", ""]
                continue
            try:
                record = decode_record(rec)
                if str(record.id) != task_id:
                    raise MalformedRecordError("stored task record's JSON holds the id of another record")
            except MalformedRecordError as exc:
                self._log_buried(task_id, str(exc))
                await self._run(self._s.bury, [task_id, str(exc)])
                continue
            args += [task_id, listing_position(record.created_at, record.id), record.task_name]
        if not args:
            return 0
        listed, buried = await self._run(self._s.backfill, [str(len(args) // 3), *args])
        for notice in buried:
            self._log_buried(notice[1], notice[2])
        return int(listed)

    async def counts(self) -> dict[str, dict[str, int]]:
        """Count records per queue and status (finished ones until their retention ends)."""
        result: dict[str, dict[str, int]] = {}
        for row in await self._run(self._s.counts, []):
            counted = zip(ALL_STATUSES, row[1:], strict=True)
            per_queue: dict[str, int] = {status: n for status, n in counted if n}
            if per_queue:
                result[_text(row[0])] = per_queue
        return result

    async def dead_letters(self) -> dict[str, str]:
        """The records moved aside because they could not be decoded: ``{task id: JSON info}``."""
        assert self._client is not None
        with mapped_errors(self._where):
            raw = await self._client.hgetall(self._keys.dead)
        return {_text(k): _text(v) for k, v in raw.items()}

    # -- waiting --------------------------------------------------------------------------------

    async def wait_for_work(self, queues: Sequence[str] | None, timeout: float) -> None:
        """Block on the queues' wake-up lists until work arrives or ``timeout`` passes.

        Each list holds at most one token, pushed by enqueue, requeue, a claim that left work
        behind, a change of a limit and a running record of a limited queue that stops; a token
        pushed while nobody waits stays until the next call takes it. After a claim held a record
        back for want of a token, the wait ends when one is due.
        """
        keys = self._keys.wake_lists(queues)
        due, self._token_due = self._token_due, None  # one wait ends early; the next claim notes it again
        if due is not None:
            timeout = min(timeout, due - time.monotonic())
        if timeout <= 0:
            return
        if not keys:  # no queue to serve: nothing can wake us
            await anyio.sleep(timeout)
            return
        blocking = self._blocking
        assert blocking is not None
        with mapped_errors(self._where):
            if self._waits is None:
                await blocking.blpop(keys, timeout=timeout)
            else:
                # BLPOP's timeout in seconds as a decimal (Redis 6 and newer), as redis-py sends it
                await self._waits.call(
                    ["BLPOP", *keys, repr(float(timeout))], lambda: blocking.blpop(keys, timeout=timeout)
                )

    async def wait_for_cancel(self, worker_id: str, timeout: float) -> set[UUID]:
        """Block on the worker's cancels list (pushed by ``cancel`` of a record it runs), then drain it."""
        key = self._keys.cancels(worker_id)
        assert self._client is not None and self._blocking is not None
        found: list[Any] = []
        with mapped_errors(self._where):
            if timeout > 0:
                first = await self._blocking.blpop([key], timeout=timeout)
                if first is None:
                    return set()
                found.append(first[1])
            found += await self._client.lpop(key, _CANCELS_DRAINED) or []
        return {task_id for raw in found if (task_id := _uuid_or_none(raw)) is not None}

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        """Subscribe to the record's done channel, then read the record, then wait for the message.

        The message carries the finished record (see ``settle()`` in ``lua/common.lua``), which
        is returned as is; a record too large to carry, a deleted or buried one, or the timeout
        return ``None`` (the caller reads it). A record already terminal when read is returned.
        """
        if timeout <= 0:
            return None
        assert self._finish_waiter is not None
        with mapped_errors(self._where):
            return await self._finish_waiter.wait(
                self._keys.done_channel(task_id),
                functools.partial(self.get, task_id),
                functools.partial(decode_done, task_id),
                timeout,
            )


_CANCELS_DRAINED = 1000  # ids taken from a worker's cancels list at once


def _uuid_or_none(raw: bytes | str) -> UUID | None:
    try:
        return uuid.UUID(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError):
        return None  # not written by cancel.lua: nothing to tell the worker


def _schedule_name(name: str) -> str:
    if not isinstance(name, str):
        raise QueueConfigurationError("a schedule's name must be a string")
    return name


def _state_name(state: ScheduleState) -> str:
    return state.name


def _address(url: str) -> str | None:
    """The server's address in ``url`` without credentials: ``host:port`` or the socket path."""
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() == "unix":
            return parts.path or None
        return f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else None
    except ValueError:
        return None
