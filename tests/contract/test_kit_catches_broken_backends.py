"""The contract kit proves its power: each deliberately broken backend is caught.

The state machine runs against each broken backend with derandomized settings (the same
examples every run, no shrinking, no example database) and must raise a ContractViolation that
names the broken rule. Where an example test targets the bug, it must fail too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings

from litestar_queues import MemoryQueueBackend
from litestar_queues.testing import ContractViolation, QueueBackendContract
from tests.contract import broken_backends as broken

if TYPE_CHECKING:
    from litestar_queues import QueueBackend

_FAST = settings(
    max_examples=400,
    stateful_step_count=50,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _contract_for(backend_class: type[QueueBackend]) -> QueueBackendContract:
    class Contract(QueueBackendContract):
        hypothesis_settings: ClassVar[settings | None] = _FAST

        async def make_backend(self) -> QueueBackend:
            return backend_class()

    return Contract()


CASES = [
    (broken.HandsTaskToTwoWorkers, "no task held by two workers", "test_claim_marks_running"),
    (
        broken.IgnoresPriority,
        # or met in a limited queue: the higher-priority record looks passed over
        r"claim order \(priority|a held-back record keeps its place",
        "test_claim_priority_then_enqueue_order",
    ),
    (
        broken.IgnoresDedupKeys,
        # or met first by a schedule's fire, whose record is stored despite the held key
        "at most one active record per dedup key|advance_schedule: the state returned",
        "test_enqueue_dedup_returns_active_holder",
    ),
    (
        broken.LosesTaskOnRetry,
        # or met in a limited queue, where the lost record looks passed over
        r"no task lost|claim order|a held-back record keeps its place|limits hold back only what they must",
        "test_requeued_record_keeps_its_position",
    ),
    (
        broken.ClaimsDelayedEarly,
        "a delayed task is never claimed before it is due",
        "test_claim_waits_for_due_time",
    ),
    (
        broken.AppliesLateCompletion,
        "finish applies only under the live lease|lost lease",
        "test_finish_rejects_lost_leases",
    ),
    (broken.CountsReleasedAttempts, r"attempts|after finish", "test_finish_each_outcome_kind"),
    (broken.ChangesTerminalRecords, "a terminal record never changes", "test_cancel_terminal_and_unknown"),
    (
        broken.QueryRepeatsTheBoundary,
        "query",
        "test_pages_miss_nothing_and_repeat_nothing_while_records_change",
    ),
    (broken.QueryIgnoresStatuses, "query", "test_query_filters_combine"),
    (
        broken.RequeuesCompletedRecords,
        # or seen when the store is checked: the completed record is pending again
        "requeue|query|after|\\(completed in the model\\) has status 'pending'",
        "test_requeue_leaves_other_statuses_and_held_keys_alone",
    ),
    (broken.DeletesRunningRecords, "delete", "test_delete_never_removes_running_records"),
    (broken.DeleteIgnoresFinishTime, "delete", "test_delete_by_finish_time_keeps_newer_records"),
    (
        broken.DeleteKeepsTheKey,
        "delete|enqueue|number of results",
        "test_deleted_waiting_record_is_never_claimed_and_frees_its_key",
    ),
    (
        broken.ClaimsFromPausedQueues,
        "no task lost|claim order|set_paused",
        "test_paused_queue_is_not_claimed_until_resumed",
    ),
    (broken.GivesLiveTurnsAway, "take_turn", "test_take_turn_gives_a_duty_to_one_holder_at_a_time"),
    (broken.ListsExpiredWorkers, "live_workers", "test_a_presence_is_live_until_it_expires"),
    (broken.DropsWorkersBeforeTheyExpire, "live_workers", "test_a_presence_is_live_until_it_expires"),
    (
        broken.KeepsTheFirstPresence,
        "live_workers|record_worker",
        "test_record_worker_keeps_the_latest_presence_of_each_worker",
    ),
    (broken.ForgetsNoWorker, "live_workers|forget_worker", "test_forget_worker_removes_it_at_once"),
    (
        broken.CountsFinishedBeforeSince,
        "finished_counts",
        "test_finished_counts_count_each_finished_status_since_a_time",
    ),
    (
        broken.KeepsStaleFinishEntries,
        "finished_counts",
        "test_finished_counts_follow_requeue_reclaim_and_delete",
    ),
    (
        broken.AdvancesWithoutComparing,
        "advance_schedule is a compare-and-set",
        "test_a_stale_expected_due_time_is_refused_and_stores_nothing",
    ),
    (
        broken.StoresRecordWhenRefused,
        "a refused advance stores nothing",
        "test_a_stale_expected_due_time_is_refused_and_stores_nothing",
    ),
    (
        broken.AdvancesInTwoSteps,
        "advance_schedule is a compare-and-set",
        "test_racing_schedulers_fire_a_due_time_once",
    ),
    (
        broken.ReportsCancelsToEveryone,
        "wait_for_cancel",
        "test_a_running_record_s_cancel_reaches_its_worker_at_once",
    ),
    (
        broken.IgnoresTheCap,
        "concurrency limit|key concurrency limit|rate limit|limits: ",
        "test_concurrency_cap_holds_back_records_until_slots_are_given_back",
    ),
    (
        broken.CountsFinishedAsRunning,
        "limits hold back only what they must|claim_task: .* within its queue's limit|concurrency limit",
        "test_concurrency_cap_holds_back_records_until_slots_are_given_back",
    ),
    (
        broken.HeldBackLosesItsPlace,
        # or, both records handed out by one claim, in the wrong order
        r"a held-back record keeps its place|claim order \(priority",
        "test_a_held_back_record_keeps_its_place",
    ),
    (
        broken.NeverRefillsTheBucket,
        "limits hold back only what they must|claim_task: .* within its queue's limit|rate limit",
        "test_rate_limit_is_a_token_bucket",
    ),
    (
        broken.ForgetsPausedOnAdvance,
        "advance_schedule keeps the paused flag",
        "test_advance_keeps_the_paused_flag",
    ),
    (
        broken.WaitReturnsTheRecordItSaw,
        "wait_for_finish returns the stored terminal record",
        "test_wait_for_finish_when_already_terminal",
    ),
    (
        broken.WaitReturnsAnotherRecord,
        "wait_for_finish returns the stored terminal record",
        "test_wait_for_finish_returns_when_finished",
    ),
]


@pytest.mark.parametrize(("backend_class", "rule", "example"), CASES, ids=[c[0].__name__ for c in CASES])
def test_state_machine_catches(backend_class: type[QueueBackend], rule: str, example: str) -> None:
    contract = _contract_for(backend_class)
    with pytest.raises(ContractViolation, match=rule):
        contract.test_state_machine()


@pytest.mark.anyio
@pytest.mark.parametrize(("backend_class", "rule", "example"), CASES, ids=[c[0].__name__ for c in CASES])
async def test_example_test_catches(backend_class: type[QueueBackend], rule: str, example: str) -> None:
    contract = _contract_for(backend_class)
    with pytest.raises(ContractViolation, match=rule):
        await getattr(contract, example)()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "example",
    [
        "test_a_running_record_s_cancel_reaches_its_worker_at_once",
        "test_a_cancel_between_two_waits_is_reported_by_the_next",
    ],
)
async def test_example_tests_catch_a_backend_that_never_reports_cancels(example: str) -> None:
    """Not a safety rule the state machine can see: a silent backend is caught by the examples."""
    contract = _contract_for(broken.ForgetsCancels)
    with pytest.raises(ContractViolation, match="wait_for_cancel"):
        await getattr(contract, example)()


def test_memory_backend_passes_the_same_runs() -> None:
    """The same derandomized examples do not flag the reference backend (the catches are not noise).

    All of them: several broken backends are caught only after their first 30 examples.
    """
    _contract_for(MemoryQueueBackend).test_state_machine()
