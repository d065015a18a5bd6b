"""The public contract: every example test plus the state machine, in one pytest base class."""

from __future__ import annotations

from litestar_queues.testing._machine import run_backend_machine
from litestar_queues.testing._suite_cancels import CancelSignalSuite
from litestar_queues.testing._suite_claim import ClaimSuite
from litestar_queues.testing._suite_lifecycle import LifecycleSuite
from litestar_queues.testing._suite_limits import LimitSuite
from litestar_queues.testing._suite_presence import PresenceSuite
from litestar_queues.testing._suite_query import QuerySuite
from litestar_queues.testing._suite_reads import ReadSuite
from litestar_queues.testing._suite_schedules import ScheduleSuite
from litestar_queues.testing._suite_upkeep import UpkeepSuite

__all__ = ("QueueBackendContract",)


class QueueBackendContract(
    ClaimSuite,
    LimitSuite,
    LifecycleSuite,
    ReadSuite,
    QuerySuite,
    UpkeepSuite,
    ScheduleSuite,
    PresenceSuite,
    CancelSignalSuite,
):
    """The conformance suite of the :class:`~litestar_queues.ports.QueueBackend` port.

    Subclass it in a test module under a name pytest collects (``Test...``) and define
    :meth:`make_backend`; pytest then runs every contract test against your backend::

        from litestar_queues.testing import QueueBackendContract


        class TestMyBackend(QueueBackendContract):
            async def make_backend(self):
                return MyBackend(url="my://localhost/test-" + uuid.uuid4().hex)

    The example tests are ``@pytest.mark.anyio`` coroutines (the ``anyio_backend`` fixture picks
    the event loop, asyncio by default); ``test_state_machine`` is a plain test that runs the
    hypothesis state machine on one event loop in a thread, through an anyio blocking portal.
    Times are always passed to the backend explicitly from a
    :class:`~litestar_queues.testing.ManualClock`, so no test sleeps to let a lease expire.

    Hooks (override in the subclass):
        ``async def make_backend(self) -> QueueBackend``: required. Return a fresh, empty, not
            yet opened backend, sharing no records with any earlier one. The kit calls
            ``open()`` and ``close()``; it is called once per example test and once per
            hypothesis example, always on the event loop that will use the backend.
        ``async def teardown_backend(self, backend) -> None``: optional. Called after
            ``close()`` (also when a test failed) to drop what ``make_backend`` created.
        ``supports_wait_notifications: ClassVar[bool] = True``: declare ``False`` when
            ``wait_for_work`` / ``wait_for_finish`` only poll; the wake-up and latch tests are
            then skipped (the timeout tests still run).
        ``wait_limit: ClassVar[float] = 10.0``: how many seconds a wake-up may take before a
            wait test fails.
        ``hypothesis_settings: ClassVar[hypothesis.settings | None] = None``: settings of the
            state machine run; ``None`` uses the loaded hypothesis profile (without a deadline,
            ``too_slow`` health check off). Slow backends pass e.g.
            ``settings(max_examples=25, stateful_step_count=30, deadline=None)``.

    Every failure raises :class:`~litestar_queues.testing.ContractViolation` (an
    ``AssertionError``) whose message starts with the rule the backend broke.
    """

    def test_state_machine(self) -> None:
        """Random operation sequences keep the backend equal to the reference model.

        Each step runs one of: enqueue (keys, priorities, delays, queues), claim by one of
        several workers, claim_task, heartbeat, finish (complete, fail, retry now / later,
        release), advance the clock, reclaim_expired, cancel, requeue, a query paged through
        with random filters, order and page size, delete by filter (a purge, or a retention
        sweep by finish time), pause / resume a queue, take a duty's turn, and on schedules:
        advance a schedule by one of several schedulers (expecting its current due time, a
        stale one, or none; firing a record or skipping), several schedulers racing on the same
        expected due time in one call, a record holding the key of a schedule's next due time,
        pause / resume a schedule, and delete a schedule; on operators' reads: record a worker's
        presence (born expired, short or long-lived, restarted), forget one, list the live ones,
        and count the records finished since a time around now. After every step the store is loaded
        and checked: no task lost, no task held by two workers, claims by priority then enqueue
        order, one active record per dedup key, delayed records never claimed early, terminal
        records unchanged, deleted records gone, paused queues never claimed, after each claim
        (and claim by id) no queue running more records than its cap, no limit key more than
        the key cap, no more starts than the token bucket held (at the claim's time), and no
        record the limits allow passed over for a later one, one live holder per duty, attempts
        never above ``max_retries + 1``, each record equal to the model's, the schedule states
        equal to the model's, exactly one winner of a compare-and-set that applies (none of one
        that does not), nothing stored by a refused advance, and at most
        one record enqueued by advances for each due time of a schedule, the live workers equal
        to the model's (expired ones never listed, in ``(started_at, worker_id)`` order), and
        the finished counts equal to the model's.
        """
        run_backend_machine(self, self.hypothesis_settings)
