"""How the cloudrun backend reads Admin API v2 resources (no server needed)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from litestar_queues_cloudrun._api import Execution, Operation, run_body

counts = st.integers(min_value=0, max_value=3)


@given(
    task_count=st.integers(min_value=1, max_value=3),
    running=counts,
    succeeded=counts,
    failed=counts,
    cancelled=counts,
    completed=st.booleans(),
)
def test_an_execution_is_over_once_completed_and_succeeds_only_when_every_task_did(
    task_count: int, running: int, succeeded: int, failed: int, cancelled: int, completed: bool
) -> None:
    execution = Execution(
        name="projects/p/locations/r/jobs/j/executions/j-1",
        task_count=task_count,
        running_count=running,
        succeeded_count=succeeded,
        failed_count=failed,
        cancelled_count=cancelled,
        completion_time="2026-01-01T00:00:00Z" if completed else None,
    )
    ended = succeeded + failed + cancelled
    assert (execution.state == "running") == (not completed and ended < task_count)
    if execution.state == "succeeded":
        assert succeeded >= task_count and failed == 0 and cancelled == 0
    if execution.state != "running" and cancelled:
        assert execution.state == "cancelled"


def test_the_run_operation_names_its_execution_in_metadata_or_response() -> None:
    name = "projects/p/locations/r/jobs/j/executions/j-1"
    assert Operation(metadata={"name": name}).execution_name == name
    assert Operation(done=True, response={"name": name}).execution_name == name
    assert Operation(metadata={"name": "projects/p/locations/r/jobs/j"}).execution_name is None


def test_the_run_request_overrides_one_task_and_rounds_the_timeout_up() -> None:
    body = run_body(args=["run-task"], env={"A": "1"}, container="app", timeout=90.2)
    assert body == {
        "overrides": {
            "containerOverrides": [
                {"args": ["run-task"], "name": "app", "env": [{"name": "A", "value": "1"}]}
            ],
            "taskCount": 1,
            "timeout": "91s",
        }
    }
    assert "timeout" not in run_body(args=[], env={}, container=None, timeout=None)["overrides"]
