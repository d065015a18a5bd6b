"""Settings of a ``cloudrun`` execution profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from litestar_queues.models import TaskRecord

__all__ = ("CloudRunProfile",)


class CloudRunProfile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where and how a ``cloudrun`` profile runs tasks: one Cloud Run Job.

    The job must already exist; its container runs the ``litestar-queues`` console script (or
    ``python -m litestar_queues.cli``, then set ``args_prefix``) from an image that contains the
    application, and reaches the same queue backend as the worker. Each task becomes one
    execution of the job whose container arguments are replaced by ``run-task`` for that task.
    The CPU and memory class is the job's: the ``jobs.run`` overrides of the Admin API cannot
    change resources, so define one job per class (``report-small``, ``report-8cpu``) and one
    profile per job.

    Attributes:
        backend: Always ``"cloudrun"``.
        project: Google Cloud project id.
        region: Region of the job (``europe-west1``).
        job: Name of the Cloud Run Job.
        app: ``MODULE:ATTR`` the container loads (default: ``QueueConfig.app``).
        container: Name of the container to override (jobs with several containers).
        args_prefix: Arguments placed before ``run-task`` (e.g. ``["-m", "litestar_queues.cli"]``
            when the container's command is ``python``).
        env: Environment variables set in the container for this execution.
        task_timeout: Seconds Cloud Run lets the container run before it kills it (default:
            the record's ``timeout`` plus ``timeout_grace``; without either, the job's own).
        timeout_grace: Margin added to the record's timeout for the default ``task_timeout``.
        poll_interval: Seconds between looks at the running execution.
    """

    backend: str = "cloudrun"
    project: str
    region: str
    job: str
    app: str | None = None
    container: str | None = None
    args_prefix: list[str] = msgspec.field(default_factory=list)
    env: dict[str, str] = msgspec.field(default_factory=dict)
    task_timeout: Annotated[float, msgspec.Meta(gt=0)] | None = None
    timeout_grace: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    poll_interval: Annotated[float, msgspec.Meta(gt=0)] = 2.0

    def __post_init__(self) -> None:
        if self.backend != "cloudrun":
            raise QueueConfigurationError(f"a cloudrun profile has backend 'cloudrun', not {self.backend!r}")
        for name in ("project", "region", "job"):
            value = getattr(self, name)
            if not value or "/" in value:
                raise QueueConfigurationError(f"cloudrun profile {name} must be a plain name, got {value!r}")

    @property
    def job_path(self) -> str:
        """The job's resource name, ``projects/{p}/locations/{r}/jobs/{job}``."""
        return f"projects/{self.project}/locations/{self.region}/jobs/{self.job}"

    def timeout_for(self, record: TaskRecord) -> float | None:
        """The task timeout of the execution that runs ``record`` (``None``: the job's)."""
        if self.task_timeout is not None:
            return self.task_timeout
        if record.timeout is not None:
            return record.timeout + self.timeout_grace
        return None
