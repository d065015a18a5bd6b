"""The subset of the Cloud Run Admin API v2 the backend uses: request bodies and execution state."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

ExecutionState = Literal["running", "succeeded", "failed", "cancelled"]


class Condition(msgspec.Struct, rename="camel"):
    type: str = ""
    state: str = ""
    message: str = ""
    reason: str = ""


class Execution(msgspec.Struct, rename="camel"):
    """The fields of a ``google.cloud.run.v2.Execution`` that decide whether it ended and how."""

    name: str = ""
    task_count: int = 1
    running_count: int = 0
    succeeded_count: int = 0
    failed_count: int = 0
    cancelled_count: int = 0
    completion_time: str | None = None
    conditions: list[Condition] = msgspec.field(default_factory=list)

    @property
    def state(self) -> ExecutionState:
        """Where the execution stands."""
        ended = self.succeeded_count + self.failed_count + self.cancelled_count
        if self.completion_time is None and ended < max(self.task_count, 1):
            return "running"
        if self.cancelled_count:
            return "cancelled"
        if self.failed_count or self.succeeded_count < max(self.task_count, 1):
            return "failed"
        return "succeeded"

    @property
    def message(self) -> str:
        """The explanation Cloud Run gives in the ``Completed`` condition, if any."""
        for condition in self.conditions:
            if condition.type == "Completed" and condition.message:
                return condition.message
        return ""


class Operation(msgspec.Struct):
    """A ``google.longrunning.Operation`` returned by ``jobs.run``."""

    name: str = ""
    done: bool = False
    metadata: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def execution_name(self) -> str | None:
        """The execution the operation created (its metadata, or its response once done)."""
        for part in (self.metadata, self.response):
            if part and isinstance(part.get("name"), str) and "/executions/" in part["name"]:
                return str(part["name"])
        return None


def run_body(
    *,
    args: list[str],
    env: dict[str, str],
    container: str | None,
    timeout: float | None,
) -> dict[str, Any]:
    """The ``RunJobRequest`` body: one task whose container arguments run this record."""
    override: dict[str, Any] = {"args": args}
    if container is not None:
        override["name"] = container
    if env:
        override["env"] = [{"name": key, "value": value} for key, value in env.items()]
    overrides: dict[str, Any] = {"containerOverrides": [override], "taskCount": 1}
    if timeout is not None:
        overrides["timeout"] = f"{max(int(timeout + 0.999), 1)}s"
    return {"overrides": overrides}
