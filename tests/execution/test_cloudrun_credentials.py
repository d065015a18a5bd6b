"""The cloudrun backend's credentials through google-auth, against the stand-in's token endpoints.

Each test lets google-auth's own code find and refresh the credentials the way it does on
Google Cloud, with the endpoints pointed at the loopback stand-in:

* a service account key file named by ``GOOGLE_APPLICATION_CREDENTIALS`` (its ``token_uri``);
* a workload identity federation file with service account impersonation (STS ``token_url``
  and the IAM ``generateAccessToken`` URL);
* the metadata server (``GCE_METADATA_HOST`` / ``GCE_METADATA_IP``, read when google-auth is
  imported: that test runs the worker in a subprocess);
* token refresh before expiry and after a 401, and the error when nothing is found.

Verified against the stand-in, not against Google Cloud.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from litestar_queues import QueueConfig, QueueService, WorkerConfig
from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues_cloudrun import CloudRunExecutionBackend
from tests.execution import app
from tests.execution.cloudrun_standin import SERVICE_ACCOUNT, CloudRunStandIn, Job
from tests.execution.conftest import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

JOB = "projects/acme/locations/local1/jobs/tasks"
PROFILE = {"backend": "cloudrun", "project": "acme", "region": "local1", "job": "tasks", "poll_interval": 0.2}


@pytest.fixture
def standin(queue_url: str) -> Iterator[CloudRunStandIn]:
    job = Job(
        command=[sys.executable, "-m", "litestar_queues.cli"], env={app.URL_VARIABLE: queue_url}, cwd=ROOT
    )
    server = CloudRunStandIn({JOB: job})
    server.accepted.clear()  # only tokens google-auth obtained from the stand-in are accepted
    server.start()
    yield server
    server.stop()


@pytest.fixture
def no_ambient_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key file, no gcloud login, no metadata server: only what a test sets up is found."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")


def _config(url: str, standin: CloudRunStandIn, **backend: Any) -> QueueConfig:
    return QueueConfig(
        queue_backend=url,
        app=app.APP,
        worker=WorkerConfig(lease_seconds=3, poll_interval=0.2),
        execution_backends={"cloudrun": CloudRunExecutionBackend(api_base_url=standin.url, **backend)},
        execution_profiles={"remote": PROFILE},
    )


async def _run_one(config: QueueConfig, value: int = 7) -> Any:
    async with QueueService(config) as service, service.worker():
        result = await service.enqueue(app.where, value, execution_profile="remote")
        await result.wait(timeout=60)
    assert result.status == "completed", result.error
    return result


def _api_calls(standin: CloudRunStandIn) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in standin.requests if path.startswith("/v2/")]


def _key_file(tmp_path: Path, standin: CloudRunStandIn) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "acme",
                "private_key_id": "key-1",
                "private_key": pem,
                "client_email": SERVICE_ACCOUNT,
                "client_id": "1234567890",
                "token_uri": f"{standin.url}/token",
            }
        )
    )
    return path


@pytest.mark.usefixtures("no_ambient_credentials")
async def test_a_service_account_key_file_from_the_environment(
    queue_url: str, standin: CloudRunStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_key_file(tmp_path, standin)))
    await _run_one(_config(queue_url, standin))
    (grant,) = standin.grants  # one token, refreshed only when it nears expiry
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert [how for how, _ in standin.issued] == ["jwt-bearer"]


@pytest.mark.usefixtures("no_ambient_credentials")
async def test_tokens_are_refreshed_before_they_expire(
    queue_url: str, standin: CloudRunStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # google-auth refreshes a token within minutes of its expiry: one that lasts 60 s is
    # refreshed before each call, and only the newest is accepted
    standin.expires_in = 60
    standin.rotate = True
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_key_file(tmp_path, standin)))
    await _run_one(_config(queue_url, standin))
    calls = _api_calls(standin)
    assert len(calls) >= 2  # :run, then at least one look at the execution
    assert len(standin.issued) == len(calls)


@pytest.mark.usefixtures("no_ambient_credentials")
async def test_a_401_refreshes_the_token_once_and_retries(
    queue_url: str, standin: CloudRunStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_key_file(tmp_path, standin)))
    config = _config(queue_url, standin)
    await _run_one(config, 1)
    assert len(standin.issued) == 1
    standin.revoke_all()  # as after a key rotation: the cached token is refused
    await _run_one(config, 2)
    assert len(standin.issued) == 2


@pytest.mark.usefixtures("no_ambient_credentials")
async def test_workload_identity_federation_with_impersonation(
    queue_url: str, standin: CloudRunStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = tmp_path / "subject-token"
    subject.write_text(standin.subject_token)
    configuration = tmp_path / "workload-identity.json"
    configuration.write_text(
        json.dumps(
            {
                "type": "external_account",
                "audience": (
                    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/q"
                ),
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": f"{standin.url}/token",
                "credential_source": {"file": str(subject)},
                "service_account_impersonation_url": (
                    f"{standin.url}/v1/projects/-/serviceAccounts/{SERVICE_ACCOUNT}:generateAccessToken"
                ),
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(configuration))
    # else google-auth asks the Resource Manager API for the project of the pool's project number
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme")
    await _run_one(_config(queue_url, standin))
    # the federated token was exchanged for the service account's, and only that one reached the API
    assert [how for how, _ in standin.issued] == ["sts", "iam"]
    assert standin.grants[0]["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"


@pytest.mark.usefixtures("no_ambient_credentials")
async def test_no_credentials_anywhere_names_the_ways_to_provide_them(
    queue_url: str, standin: CloudRunStandIn
) -> None:
    backend = CloudRunExecutionBackend(api_base_url=standin.url)
    with pytest.raises(QueueConfigurationError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        await backend.credentials.headers()


def test_the_metadata_server_of_the_machine(queue_url: str, standin: CloudRunStandIn, tmp_path: Path) -> None:
    """A worker process on a "Google Cloud machine": google-auth detects the metadata server."""
    host = standin.url.removeprefix("http://")
    env = {
        **{
            k: v for k, v in os.environ.items() if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "NO_GCE_CHECK")
        },
        "GCE_METADATA_HOST": host,
        "GCE_METADATA_IP": host,
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "LQ_CLOUDRUN_API": standin.url,
        app.URL_VARIABLE: queue_url,
        "PYTHONUNBUFFERED": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "litestar_queues.cli", "worker", "tests.execution.cloudrun_app:config"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        async def enqueue_and_wait() -> Any:
            async with QueueService(_config(queue_url, standin)) as service:  # it only enqueues
                result = await service.enqueue(
                    app.where, 3, execution_backend="cloudrun", execution_profile="remote"
                )
                await result.wait(timeout=60)
                return result

        result = anyio.run(enqueue_and_wait)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert result.status == "completed", (result.error, output)
    assert [how for how, _ in standin.issued] == ["metadata"], output
    assert ("GET", "/") in [(m, p) for m, p, _ in standin.requests]  # google-auth's detection ping
