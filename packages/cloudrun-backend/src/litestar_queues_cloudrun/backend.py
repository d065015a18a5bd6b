"""The ``cloudrun`` execution backend: each task runs as one Cloud Run Job execution."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import msgspec

from litestar_queues.exceptions import NonRetryableError, QueueConfigurationError
from litestar_queues.execution.profiles import decode_profile, profiles_for
from litestar_queues.execution.protocol import run_task_args
from litestar_queues.ports import ExecutionBackend
from litestar_queues_cloudrun._api import Execution, Operation, run_body
from litestar_queues_cloudrun.credentials import CLOUD_PLATFORM_SCOPE, CredentialsError, CredentialSource
from litestar_queues_cloudrun.profile import CloudRunProfile

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from google.auth.credentials import Credentials

    from litestar_queues.config import QueueConfig
    from litestar_queues.models import TaskRecord

__all__ = ("CloudRunError", "CloudRunExecutionBackend")

logger = logging.getLogger("litestar_queues.execution.cloudrun")

_POLL_ERRORS_TOLERATED = 20


class CloudRunError(Exception):
    """A Cloud Run execution ended without the task writing its outcome (failed or cancelled)."""


class CloudRunExecutionBackend(ExecutionBackend):
    """Runs each task as one execution of a Cloud Run Job (Admin API v2, over HTTPS).

    The worker claims the record and keeps its lease alive; this backend starts an execution of
    the profile's job with container arguments ``run-task --app APP TASK_ID --lease LEASE``,
    follows it until it ends, and cancels it when the lease is lost or the worker shuts down.
    The container writes the outcome; a failed or cancelled execution fails the attempt (the
    record's retries decide what follows).

    Register it by name and give it profiles::

        QueueConfig(
            app="myapp.queue:config",
            execution_backends={"cloudrun": CloudRunExecutionBackend()},
            execution_profiles={
                "heavy": {"backend": "cloudrun", "project": "acme", "region": "us-east1", "job": "reports"}
            },
        )

    Credentials come from google-auth: the application default credentials (a key or workload
    identity file named by ``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's application default
    login, or the metadata server of the machine), looked up at the first API call, or the
    ``credentials`` given. See :mod:`litestar_queues_cloudrun.credentials`.

    Args:
        api_base_url: Base URL of the Admin API (a loopback URL in tests).
        credentials: google-auth credentials to use (default: application default credentials).
        scopes: OAuth scopes requested when the credentials need them.
        http_timeout: Seconds one HTTP request may take.
    """

    writes_outcomes = True
    """The container writes the outcome under the worker's lease (see the ``ExecutionBackend`` port)."""

    needs_shared_queue = True
    """The container reaches the record through the queue backend, so it must be shared."""

    def __init__(
        self,
        *,
        api_base_url: str = "https://run.googleapis.com",
        credentials: Credentials | None = None,
        scopes: Sequence[str] = (CLOUD_PLATFORM_SCOPE,),
        http_timeout: float = 30.0,
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self.credentials = CredentialSource(credentials, scopes=scopes)
        self.http_timeout = http_timeout
        self._client: httpx.AsyncClient | None = None
        self._app: str | None = None
        self._profiles: dict[str, CloudRunProfile] = {}

    def configure(self, config: QueueConfig) -> None:
        """Read ``QueueConfig.app`` and decode the ``cloudrun`` profiles.

        Raises:
            QueueConfigurationError: A profile is invalid or no ``app`` is known for it.
        """
        self._app = config.app
        self._profiles = {}
        for name, settings in profiles_for("cloudrun", config.execution_profiles):
            profile = decode_profile(name, settings, CloudRunProfile)
            if profile.app is None and self._app is None:
                raise QueueConfigurationError(
                    f"execution profile {name!r} runs tasks in Cloud Run containers, which load the app: "
                    "set QueueConfig(app='module:attr') or the profile's 'app'"
                )
            self._profiles[name] = profile

    def check(self, profile: str | None) -> None:
        """Validate a placement at enqueue: a ``cloudrun`` profile must be named.

        Raises:
            QueueConfigurationError: It is missing or not a ``cloudrun`` profile.
        """
        self.profile(profile)

    def profile(self, name: str | None) -> CloudRunProfile:
        """The decoded profile ``name``.

        Raises:
            QueueConfigurationError: It is missing or not a ``cloudrun`` profile.
        """
        found = self._profiles.get(name) if name is not None else None
        if found is None:
            raise QueueConfigurationError(
                f"the cloudrun execution backend needs a cloudrun execution profile, got {name!r}; "
                f"configured: {sorted(self._profiles)}"
            )
        return found

    async def open(self) -> None:
        """Open the HTTP client."""
        self._client = httpx.AsyncClient(timeout=self.http_timeout)

    async def close(self) -> None:
        """Close the HTTP client and the token requests' session."""
        self.credentials.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def execute(self, record: TaskRecord, run_here: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``record`` as a Cloud Run Job execution and follow it until it ends.

        Returns:
            ``None`` once the execution succeeded (the container wrote the outcome).

        Raises:
            NonRetryableError: The placement is misconfigured or the API refused the request.
            CloudRunError: The execution failed or was cancelled.
        """
        try:
            profile = self.profile(record.execution_profile)
        except QueueConfigurationError as exc:
            raise NonRetryableError(str(exc)) from None
        app = profile.app or self._app
        assert app is not None and record.lease_id is not None
        args = [
            *profile.args_prefix,
            *run_task_args(
                app,
                record.id,
                lease_id=record.lease_id,
                worker_id=record.worker_id,
                exit_zero_when_recorded=True,
            ),
        ]
        body = run_body(
            args=args, env=profile.env, container=profile.container, timeout=profile.timeout_for(record)
        )
        operation = msgspec.json.decode(
            await self._call("POST", f"/v2/{profile.job_path}:run", body), type=Operation
        )
        execution_name = operation.execution_name or await self._execution_of(operation)
        logger.info("task %s runs as Cloud Run execution %s", record.id, execution_name)
        try:
            execution = await self._follow(execution_name, profile.poll_interval)
        except BaseException:
            with anyio.CancelScope(shield=True), anyio.move_on_after(self.http_timeout):
                await self._cancel(execution_name)
            raise
        state = execution.state
        if state == "succeeded":
            return None
        detail = f": {execution.message}" if execution.message else ""
        raise CloudRunError(f"Cloud Run execution {execution_name} {state}{detail}")

    async def _follow(self, execution_name: str, interval: float) -> Execution:
        errors = 0
        while True:
            try:
                execution = msgspec.json.decode(
                    await self._call("GET", f"/v2/{execution_name}"), type=Execution
                )
                errors = 0
            except (httpx.TransportError, _ServerError, CredentialsError) as exc:
                errors += 1
                if errors > _POLL_ERRORS_TOLERATED:
                    raise
                logger.warning("could not read Cloud Run execution %s (retrying): %r", execution_name, exc)
            else:
                if execution.state != "running":
                    return execution
            await anyio.sleep(interval)

    async def _execution_of(self, operation: Operation) -> str:
        # the run operation names its execution in its metadata; if it did not, wait for it
        while True:
            name = operation.execution_name
            if name is not None:
                return name
            if operation.done or not operation.name:
                raise CloudRunError(f"Cloud Run did not start an execution: {operation.error or operation}")
            await anyio.sleep(1.0)
            operation = msgspec.json.decode(await self._call("GET", f"/v2/{operation.name}"), type=Operation)

    async def _cancel(self, execution_name: str) -> None:
        try:
            await self._call("POST", f"/v2/{execution_name}:cancel", {})
            logger.info("cancelled Cloud Run execution %s", execution_name)
        except Exception as exc:
            logger.warning("could not cancel Cloud Run execution %s: %r", execution_name, exc)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        client = self._client
        if client is None:
            raise RuntimeError("the cloudrun execution backend is not open")
        for attempt in (1, 2):
            headers = await self.credentials.headers()
            response = await client.request(method, self.api_base_url + path, json=body, headers=headers)
            if response.status_code == 401 and attempt == 1:
                self.credentials.invalidate()  # refreshed before the second try
                continue
            if response.status_code >= 500 or response.status_code == 429:
                raise _ServerError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
            if response.status_code >= 400:
                raise NonRetryableError(
                    f"Cloud Run Admin API refused {method} {path}: HTTP {response.status_code}: "
                    f"{response.text[:500]}"
                )
            return response.content
        raise AssertionError("unreachable")


class _ServerError(CloudRunError):
    """The Admin API answered 5xx or 429: worth another try."""
