"""The worker: claims tasks, runs them, keeps their leases alive and reports outcomes."""

from __future__ import annotations

import logging
import re
import signal
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread

from litestar_queues._limit_ops import write_configured
from litestar_queues._presence import WorkerPresence
from litestar_queues._watchdog import LeaseWatchdog
from litestar_queues.backends.signals import Latch
from litestar_queues.exceptions import QueueError
from litestar_queues.retention import RETENTION_DUTY
from litestar_queues.schedules.scheduler import Scheduler

if TYPE_CHECKING:
    from types import TracebackType
    from uuid import UUID

    from anyio.abc import TaskGroup, TaskStatus

    from litestar_queues.config import WorkerConfig
    from litestar_queues.models import Outcome, TaskRecord
    from litestar_queues.service import QueueService

__all__ = ("Worker",)

logger = logging.getLogger("litestar_queues.worker")

_BACKOFF_ON_ERROR = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)

_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")


class _Running:
    __slots__ = ("lease_id", "lost", "record", "released", "scope", "spared_until")

    def __init__(self, record: TaskRecord) -> None:
        if record.lease_id is None:
            raise QueueError(f"claimed task {record.id} carries no lease id")
        self.record = record
        self.lease_id: str = record.lease_id
        self.scope = anyio.CancelScope()
        self.released = False
        self.lost = False
        # a remote run (execution backend with writes_outcomes) loses its lease when the remote
        # side writes the outcome: it gets up to lease_seconds to end (its container to exit)
        # before it is cancelled, unless the backend reported a cancel of it
        self.spared_until: float | None = None


class Worker:
    """Claims tasks from the service's queue backend and runs them.

    Use it as an async context manager to run in the background of the current event loop
    (entering returns once the worker serves and has recorded its presence, see
    :meth:`QueueService.workers <litestar_queues.QueueService.workers>`), or
    ``await worker.run()`` to run in the foreground until SIGTERM or SIGINT. On shutdown the
    worker stops claiming, gives running tasks ``shutdown_grace`` seconds to finish, and
    releases the rest back to the queue.

    Guarantees: a task is held under a lease that a heartbeat keeps alive; a worker that dies
    loses its tasks to other workers once the lease expires; a task whose lease was lost or that
    was cancelled is cancelled here and its late outcome is never applied.

    Args:
        service: An open :class:`~litestar_queues.QueueService`.
        config: Worker settings (default: the service config's ``worker``).
        **overrides: Fields of :class:`~litestar_queues.WorkerConfig` to override.

    Raises:
        ScheduleError: A declared schedule names a task not registered in this process, or two
            share a name (unless ``scheduler=False``).
    """

    def __init__(self, service: QueueService, config: WorkerConfig | None = None, **overrides: Any) -> None:
        base = config or service.config.worker
        self.config = replace(base, **overrides) if overrides else base
        self.service = service
        self.attempts = service.attempts
        self.worker_id = self.config.effective_worker_id
        # keyed by lease id: after a lost lease the same task may be claimed again by this worker
        # while its first run is still unwinding
        self._running: dict[str, _Running] = {}
        self._finishing: dict[UUID, str] = {}
        self._acks: list[Outcome] = []
        # one finish() call at a time: the final flush on shutdown waits for a batch the ack loop
        # has in flight instead of finding the list empty and cancelling that call
        self._ack_lock = anyio.Lock()
        self._ack_wake = anyio.Event()
        # a cancel of a task this worker runs: beat now, whose lost lease stops the task
        self._beat_now = Latch()
        self._told_cancelled: set[UUID] = set()  # running tasks the backend reported cancelled
        self._slot_freed = anyio.Event()
        self._stopping = anyio.Event()
        self._stopped = anyio.Event()
        self._idle_scope: anyio.CancelScope | None = None
        # claimed records whose lease expired before (their worker died or stalled): each runs
        # alone here, so that a task that kills or stalls its worker is the only one charged again
        self._suspects: list[_Running] = []
        # after a batch held a suspect, claim one record at a time until one is not a suspect:
        # suspects are then met one by one, instead of being held (and charged) together
        self._careful = False
        # who serves, for operators: recorded at start, on the heartbeat's timer and when draining
        self._presence = WorkerPresence(
            service.backend,
            service.config.clock,
            worker_id=self.worker_id,
            queues=self.config.queues,
            concurrency=self.config.concurrency,
            interval=self.config.effective_heartbeat_interval,
            running=self._running.__len__,
            stopping=self._stopping.is_set,
        )
        self._watchdog = self._make_watchdog()
        # built here, so that a schedule naming an unregistered task fails before the worker starts
        self.scheduler = (
            Scheduler(service, interval=self.config.scheduler_interval) if self.config.scheduler else None
        )
        """The scheduler this worker runs (``None`` with ``WorkerConfig(scheduler=False)``)."""
        self._task_group: TaskGroup | None = None
        self._tg_cm: Any = None
        self.completed = 0
        self.failed = 0
        self.retried = 0
        self.released = 0
        self.summary_interval = 60.0
        """Seconds between throughput summaries logged at INFO (only intervals with outcomes are logged)."""
        self._started_at = 0.0

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Worker:
        self._tg_cm = anyio.create_task_group()
        self._task_group = await self._tg_cm.__aenter__()
        try:
            await self._task_group.start(self._serve)  # returns once the worker recorded its presence
        except BaseException as exc:  # cancelled while starting: leave the task group as entered
            self.stop()
            await self._tg_cm.__aexit__(type(exc), exc, exc.__traceback__)
            self._task_group = None
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        self.stop()
        if exc is not None and not isinstance(exc, anyio.get_cancelled_exc_class()):
            # the block raised: drain as on a normal exit (grace, then release) before the error
            # propagates, instead of abandoning running tasks until their leases expire
            await self._stopped.wait()
        try:
            return bool(await self._tg_cm.__aexit__(exc_type, exc, tb))
        finally:
            self._task_group = None

    def stop(self) -> None:
        """Ask the worker to stop claiming and drain (returns at once)."""
        self._stopping.set()
        if self._idle_scope is not None:
            self._idle_scope.cancel()
        self._slot_freed.set()

    async def wait_stopped(self) -> None:
        """Wait until the worker has drained and stopped."""
        await self._stopped.wait()

    async def run(self, *, handle_signals: bool = True) -> None:
        """Run in the foreground until SIGTERM/SIGINT (or :meth:`stop`), then drain and return."""
        async with anyio.create_task_group() as tg:
            if handle_signals:
                tg.start_soon(self._stop_on_signal)
            await self._serve()
            tg.cancel_scope.cancel()

    async def _stop_on_signal(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                logger.info("worker %s received %s: draining", self.worker_id, signal.Signals(signum).name)
                self.stop()
                return

    @property
    def running_count(self) -> int:
        """Tasks running now."""
        return len(self._running)

    # -- the loops ------------------------------------------------------------------------------

    def _make_watchdog(self) -> LeaseWatchdog | None:
        url = self.service.config.queue_backend
        if not self.config.watchdog or not isinstance(url, str):
            return None  # a backend instance cannot be opened again in another thread
        if not self.service.backend.reach.shared_across_processes:
            return None  # nobody else can take this worker's tasks
        return LeaseWatchdog(
            url,
            worker_id=self.worker_id,
            interval=self.config.effective_heartbeat_interval,
            lease_seconds=self.config.lease_seconds,
            clock=self.service.config.clock,
            held=self._held_leases,
            presence=self._presence.describe,
        )

    def _held_leases(self) -> list[tuple[UUID, str]]:
        leases = {e.record.id: e.lease_id for e in list(self._running.values()) if not e.lost}
        for task_id, lease_id in list(self._finishing.items()):
            leases.setdefault(task_id, lease_id)
        return list(leases.items())

    def _describe_backend(self) -> str:
        backend = self.service.config.queue_backend
        if isinstance(backend, str):
            return _PASSWORD.sub(r"\1:***@", backend)
        return type(backend).__name__

    def _summary(self) -> tuple[int, str]:
        done = self.completed + self.failed + self.retried + self.released
        text = (
            f"{self.completed} completed, {self.failed} failed, {self.retried} retried, "
            f"{self.released} released"
        )
        return done, text

    async def _summary_loop(self) -> None:
        last_done, last_at = 0, anyio.current_time()
        while True:
            await anyio.sleep(self.summary_interval)
            done, text = self._summary()
            now = anyio.current_time()
            if done != last_done:
                logger.info(
                    "worker %s: %s so far; %.1f tasks/s over the last %.0f s, %d running",
                    self.worker_id,
                    text,
                    (done - last_done) / max(now - last_at, 1e-9),
                    now - last_at,
                    len(self._running),
                )
            last_done, last_at = done, now

    async def _serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._started_at = anyio.current_time()
        logger.info(
            "worker %s started: backend %s, queues %s, concurrency %d",
            self.worker_id,
            self._describe_backend(),
            ",".join(self.config.queues) if self.config.queues else "(all)",
            self.config.concurrency,
        )
        if self._watchdog is not None:
            self._watchdog.start()
        try:
            # the configured limits are in the store before this worker claims anything
            await write_configured(self.service.backend, self.service.config.limits)
            await self._presence.beat()
            task_status.started()
            async with anyio.create_task_group() as service_tg:
                service_tg.start_soon(self._heartbeat_loop)
                service_tg.start_soon(self._cancel_loop)
                service_tg.start_soon(self._reclaim_loop)
                service_tg.start_soon(self._ack_loop)
                service_tg.start_soon(self._summary_loop)
                service_tg.start_soon(self._retention_loop)
                if self.scheduler is not None:
                    service_tg.start_soon(self.scheduler.run)
                if self.attempts.observers is not None:
                    service_tg.start_soon(self.attempts.observers.watch, self.service)
                async with anyio.create_task_group() as tasks_tg:
                    await self._claim_loop(tasks_tg)
                    tasks_tg.start_soon(self._presence.beat)  # stopping now: seen draining
                    await self._drain()
                await self._flush_acks(final=True)
                service_tg.cancel_scope.cancel()
            # a clean stop, after the heartbeat's last beat: gone from the operators' list at once
            await self._presence.forget()
        finally:
            if self._watchdog is not None:
                await anyio.to_thread.run_sync(self._watchdog.stop)
            self._stopped.set()
            done, text = self._summary()
            elapsed = anyio.current_time() - self._started_at
            logger.info(
                "worker %s stopped: %s in %.1f s (%.1f tasks/s)",
                self.worker_id,
                text,
                elapsed,
                done / max(elapsed, 1e-9),
            )

    async def _claim_loop(self, tasks_tg: TaskGroup) -> None:
        errors = 0
        while not self._stopping.is_set():
            if self._suspects:
                await self._run_alone(tasks_tg)
                continue
            free = self.config.concurrency - len(self._running)
            if free <= 0:
                await self._slot_freed.wait()
                self._slot_freed = anyio.Event()
                continue
            limit = 1 if self._careful else free
            try:
                records = await self.attempts.claim(
                    queues=self.config.queues,
                    worker_id=self.worker_id,
                    limit=limit,
                    lease_seconds=self.config.lease_seconds,
                )
                errors = 0
            except Exception as exc:
                delay = _BACKOFF_ON_ERROR[min(errors, len(_BACKOFF_ON_ERROR) - 1)]
                errors += 1
                logger.warning("worker %s could not claim (retrying in %s s): %r", self.worker_id, delay, exc)
                await self._idle(delay)
                continue
            for record in records:
                # the backend hands a task out again only after this worker's lease on it was lost:
                # an earlier run still unwinding here is stale, and stopped now; unless it runs
                # remotely and its remote side wrote the outcome (a retry, not a reclaim): its
                # container is exiting, and is left to end on its own
                for stale in [e for e in self._running.values() if e.record.id == record.id]:
                    stale.lost = True
                    if (
                        self.attempts.writes_outcomes(stale.record)
                        and record.reclaims == stale.record.reclaims
                        and record.id not in self._told_cancelled
                    ):
                        continue
                    stale.scope.cancel()
                entry = _Running(record)
                self._running[entry.lease_id] = entry
                if record.reclaims > 0 and self.config.isolate_reclaimed:
                    self._suspects.append(entry)
                else:
                    tasks_tg.start_soon(self._execute, entry)
            if records:
                self._careful = bool(self._suspects)
            if len(records) < limit and not self._suspects:
                # the claim found less than it asked for: nothing more was claimable then, so wait
                # for work at once instead of claiming again (an empty round trip, sent before the
                # tasks just spawned start); work that came meanwhile left a wake-up that ends
                # the wait at once (the port's contract). Those tasks start first: the wait's
                # round trip is sent after them, not before. A held suspect runs first (above)
                if records:
                    await anyio.lowlevel.checkpoint()
                await self._idle(self.config.poll_interval, wait_for_work=True)

    async def _wait_slot(self) -> None:
        await self._slot_freed.wait()
        self._slot_freed = anyio.Event()

    async def _run_alone(self, tasks_tg: TaskGroup) -> None:
        """Run the first held suspect with nothing else running here, and claim nothing meanwhile.

        Before it starts, the other held suspects go back to the queue uncounted (if this one
        kills the worker, they would lose their lease and be charged with it), and every outcome
        decided so far is reported (it would die with the worker too).
        """
        while len(self._running) > len(self._suspects) and not self._stopping.is_set():
            await self._wait_slot()
        if self._stopping.is_set():
            return
        entry = self._suspects.pop(0)
        for other in self._suspects:
            self._running.pop(other.lease_id, None)
            self._acks.append(self.attempts.released(other.record))
        self._suspects.clear()
        await self._flush_acks(final=False)
        record = entry.record
        logger.warning(
            "task %s (%s) lost its lease %d time(s) before (its worker died or stalled): running it "
            "alone in worker %s",
            record.id,
            record.task_name,
            record.reclaims,
            self.worker_id,
        )
        tasks_tg.start_soon(self._execute, entry)
        while entry.lease_id in self._running and not self._stopping.is_set():
            await self._wait_slot()

    async def _idle(self, seconds: float, *, wait_for_work: bool = False) -> None:
        with anyio.CancelScope() as scope:
            self._idle_scope = scope
            if self._stopping.is_set():
                return
            try:
                if wait_for_work:
                    await self.service.backend.wait_for_work(self.config.queues, seconds)
                else:
                    await anyio.sleep(seconds)
            except Exception as exc:
                logger.warning("worker %s: waiting for work failed: %r", self.worker_id, exc)
                await anyio.sleep(min(seconds, 1.0))
            finally:
                self._idle_scope = None

    async def _execute(self, entry: _Running) -> None:
        record = entry.record
        outcome: Outcome | None = None
        # one context per run, so the events of the run (task.cancelled too) share one sequence
        context = self.attempts.context_for(record, self.worker_id)
        try:
            with entry.scope:
                outcome = await self.attempts.run(record, self.worker_id, context=context)
            if entry.scope.cancelled_caught:
                outcome = None
                if entry.released:
                    outcome = self.attempts.released(record)
                else:
                    await self.attempts.announce_lost(context)
        finally:
            self._running.pop(entry.lease_id, None)
            self._slot_freed.set()
        if outcome is not None:
            self._finishing[record.id] = outcome.lease_id
            self._acks.append(outcome)
            self._ack_wake.set()

    async def _drain(self) -> None:
        # suspects that never started go back to the queue at once, their attempt uncounted
        for entry in self._suspects:
            self._running.pop(entry.lease_id, None)
            self._acks.append(self.attempts.released(entry.record))
        self._suspects.clear()
        if self._running:
            with anyio.move_on_after(self.config.shutdown_grace):
                while self._running:
                    await self._slot_freed.wait()
                    self._slot_freed = anyio.Event()
        for entry in list(self._running.values()):
            entry.released = True
            entry.scope.cancel()

    async def _ack_loop(self) -> None:
        while True:
            await self._ack_wake.wait()
            self._ack_wake = anyio.Event()
            await self._flush_acks(final=False)

    async def _flush_acks(self, *, final: bool) -> None:
        errors = 0
        while True:
            async with self._ack_lock:
                if not self._acks:
                    return
                batch, self._acks = self._acks, []
                try:
                    applied = await self.attempts.report(batch)
                except Exception as exc:
                    self._acks[:0] = batch
                    failure: Exception | None = exc
                else:
                    failure = None
            if failure is not None:
                delay = _BACKOFF_ON_ERROR[min(errors, len(_BACKOFF_ON_ERROR) - 1)]
                errors += 1
                logger.warning(
                    "worker %s could not report %d outcomes (retrying): %r",
                    self.worker_id,
                    len(batch),
                    failure,
                )
                if final and errors > len(_BACKOFF_ON_ERROR):
                    logger.error("worker %s gave up reporting %d outcomes", self.worker_id, len(batch))
                    return
                await anyio.sleep(delay)
                continue
            for outcome, record in zip(batch, applied, strict=True):
                if self._finishing.get(outcome.task_id) == outcome.lease_id:
                    del self._finishing[outcome.task_id]
                if record is None:
                    continue
                if record.status == "completed":
                    self.completed += 1
                elif record.status == "failed":
                    self.failed += 1
                elif outcome.kind == "retry":
                    self.retried += 1
                elif outcome.kind == "release":
                    self.released += 1

    async def _heartbeat_loop(self) -> None:
        interval = self.config.effective_heartbeat_interval
        while True:
            await self._beat_now.wait(interval)
            if self._watchdog is not None:
                self._watchdog.beat()
            await self._extend_leases()
            await self._presence.beat()

    async def _extend_leases(self) -> None:
        # one lease per task id: extend_leases reports lost leases by task id only
        live = [e for e in self._running.values() if not e.lost]
        leases = {e.record.id: e.lease_id for e in live}
        for task_id, lease_id in self._finishing.items():
            leases.setdefault(task_id, lease_id)
        if not leases:
            return
        try:
            lost = await self.attempts.extend_leases(
                list(leases.items()), lease_seconds=self.config.lease_seconds
            )
        except Exception as exc:
            logger.warning("worker %s could not extend leases: %r", self.worker_id, exc)
            return
        for entry in live:
            # a task that ended (and was acknowledged) during the call is no longer running
            if self._running.get(entry.lease_id) is not entry:
                continue
            if entry.record.id in lost and leases[entry.record.id] == entry.lease_id:
                told = entry.record.id in self._told_cancelled
                if not told and self.attempts.writes_outcomes(entry.record):
                    now = anyio.current_time()
                    if entry.spared_until is None:
                        entry.spared_until = now + self.config.lease_seconds
                    if now < entry.spared_until:
                        continue
                if told:
                    logger.info("task %s was cancelled: stopping it", entry.record.id)
                else:
                    logger.warning(
                        "task %s lost its lease (cancelled or reclaimed): cancelling it", entry.record.id
                    )
                entry.lost = True
                entry.scope.cancel()

    async def _cancel_loop(self) -> None:
        """Beat at once when the backend reports a cancel of a task this worker runs.

        The heartbeat then finds the task's lease gone and stops the task: within a round trip
        or two of the cancel on Redis and PostgreSQL, instead of at the next regular beat.
        """
        interval = self.config.effective_heartbeat_interval
        backend = self.service.backend
        while True:
            try:
                cancelled = await backend.wait_for_cancel(self.worker_id, interval)
            except Exception as exc:
                logger.debug("worker %s could not wait for cancels (retrying): %r", self.worker_id, exc)
                await anyio.sleep(interval)
                continue
            mine = {entry.record.id for entry in list(self._running.values())} & cancelled
            if mine:
                self._told_cancelled = (self._told_cancelled | mine) & {
                    entry.record.id for entry in self._running.values()
                }
                self._beat_now.fire()

    async def _retention_loop(self) -> None:
        """Sweep old finished records when this worker gets the retention duty's turn."""
        retention = self.service.config.retention
        if not retention.enabled or not retention.ages():
            return
        clock = self.service.config.clock
        # worker ids may repeat across machines (pid-based): the turn needs a unique holder
        holder = f"{self.worker_id}/{uuid.uuid4().hex[:12]}"
        turn = timedelta(seconds=retention.interval)
        while True:
            try:
                now = clock.now()
                if await self.service.backend.take_turn(
                    RETENTION_DUTY, holder=holder, now=now, until=now + turn
                ):
                    await self.service.prune()
            except Exception as exc:
                logger.warning("worker %s could not sweep old records: %r", self.worker_id, exc)
            await anyio.sleep(retention.interval)

    async def _reclaim_loop(self) -> None:
        interval = self.config.effective_reclaim_interval
        while True:
            try:
                await self.attempts.reclaim_expired()
            except Exception as exc:
                logger.warning("worker %s could not reclaim expired leases: %r", self.worker_id, exc)
            await anyio.sleep(interval)
