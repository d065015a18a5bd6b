"""A local stand-in for the part of the Cloud Run Admin API v2 the cloudrun backend uses.

Like the real service it actually starts the job's container command, here as a local process
(``python -m litestar_queues.cli`` plus the execution's argument overrides), so the task truly
runs through ``litestar-queues run-task``. It also stands in for the Google endpoints that
google-auth gets access tokens from, so the backend's real credential code runs against it.

Speaks the Admin API: ``POST /v2/{job}:run`` (a long-running operation naming the execution),
``GET /v2/{execution}``, ``POST /v2/{execution}:cancel``; every call must carry a bearer token it
accepts (``accepted``). And the token endpoints:

* the metadata server (point ``GCE_METADATA_HOST`` and ``GCE_METADATA_IP`` at it): the detection
  ping ``GET /``, ``GET /computeMetadata/v1/instance/service-accounts/default/`` (recursive),
  ``.../default/token``, ``project/project-id`` and ``universe/universe-domain``;
* ``POST /token``: the OAuth token endpoint of a service account key file (``token_uri``; a
  JWT-bearer grant) and of STS (``token_url`` of a workload identity federation file; a
  token-exchange grant of ``subject_token``);
* ``POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken``: the IAM credentials API
  that impersonation calls, with a token from ``/token``.

Each token request issues a new token that expires in ``expires_in`` seconds; with ``rotate``
only the newest one is accepted. ``misbehave`` makes it cancel (``"cancel"``) or kill
(``"fail"``) the next executions right after they start, as an operator or an out-of-memory kill
would.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
METADATA = "/computeMetadata/v1/"
SERVICE_ACCOUNT = "worker@acme.iam.gserviceaccount.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
_IMPERSONATE = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken$")
_RUN = re.compile(r"^/v2/(projects/[^/]+/locations/[^/]+/jobs/[^/:]+):run$")
_EXECUTION = re.compile(r"^/v2/(projects/[^/]+/locations/[^/]+/jobs/[^/]+/executions/[^/:]+)(:cancel)?$")


@dataclass
class Job:
    """A job: its container command, environment and working directory."""

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


@dataclass
class Execution:
    name: str
    process: subprocess.Popen[bytes]
    args: list[str]
    env: dict[str, str]
    timeout: float | None
    started: float
    outcome: str | None = None  # succeeded, failed, cancelled
    message: str = ""
    finished_at: str | None = None

    def refresh(self) -> None:
        if self.outcome is not None:
            return
        code = self.process.poll()
        if code is None:
            if self.timeout is not None and time.monotonic() - self.started > self.timeout:
                self.stop("failed", f"Task {self.name}-task0 timed out after {self.timeout}s")
            return
        if code == 0:
            self.finish("succeeded", "Execution completed successfully.")
        else:
            self.finish("failed", f"Task {self.name}-task0 failed: the container exited with {code}")

    def stop(self, outcome: str, message: str) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.finish(outcome, message)

    def finish(self, outcome: str, message: str) -> None:
        self.outcome = outcome
        self.message = message
        self.finished_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    def resource(self) -> dict[str, Any]:
        self.refresh()
        body: dict[str, Any] = {
            "name": self.name,
            "taskCount": 1,
            "runningCount": 1 if self.outcome is None else 0,
            "succeededCount": 1 if self.outcome == "succeeded" else 0,
            "failedCount": 1 if self.outcome == "failed" else 0,
            "cancelledCount": 1 if self.outcome == "cancelled" else 0,
            "conditions": [],
        }
        if self.outcome is not None:
            body["completionTime"] = self.finished_at
            state = "CONDITION_SUCCEEDED" if self.outcome == "succeeded" else "CONDITION_FAILED"
            body["conditions"] = [{"type": "Completed", "state": state, "message": self.message}]
        return body


class CloudRunStandIn:
    """The stand-in server, on a loopback port in a background thread."""

    def __init__(self, jobs: dict[str, Job], *, token: str = "stand-in-token") -> None:
        self.jobs = jobs
        self.token = token
        self.accepted: set[str] = {token}
        """Bearer tokens the Admin API accepts."""
        self.issued: list[tuple[str, str]] = []
        """``(how, token)`` for each token handed out: ``metadata``, ``jwt-bearer``, ``sts``, ``iam``."""
        self.grants: list[dict[str, str]] = []
        """The form fields of each ``POST /token``."""
        self.expires_in = 3599
        self.rotate = False
        self.subject_token = "federated-subject-token"
        """What a workload identity federation file's credential source must hold."""
        self.executions: dict[str, Execution] = {}
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.misbehave: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for execution in self.executions.values():
                if execution.process.poll() is None:
                    execution.stop("cancelled", "stand-in stopped")

    # -- tokens -------------------------------------------------------------------------------

    def issue(self, how: str, *, accepted: bool = True) -> str:
        with self._lock:
            token = f"{how}-token-{len(self.issued) + 1}"
            self.issued.append((how, token))
            if accepted:
                if self.rotate:
                    self.accepted.clear()
                self.accepted.add(token)
        return token

    def revoke_all(self) -> None:
        """Stop accepting every token handed out so far (the next API call answers 401)."""
        with self._lock:
            self.accepted.clear()

    def token_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.grants.append(form)
        grant = form.get("grant_type")
        if grant == JWT_BEARER:
            claims = _jwt_claims(form.get("assertion", ""))
            if claims.get("iss") != SERVICE_ACCOUNT or "cloud-platform" not in claims.get("scope", ""):
                return 400, {"error": "invalid_grant", "error_description": f"bad assertion {claims}"}
            token = self.issue("jwt-bearer")
            return 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        if grant == TOKEN_EXCHANGE:
            if form.get("subject_token") != self.subject_token:
                return 400, {"error": "invalid_grant", "error_description": "unknown subject token"}
            # the federated token is good only for impersonating the service account
            token = self.issue("sts", accepted=False)
            return 200, {
                "access_token": token,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": self.expires_in,
            }
        return 400, {"error": "unsupported_grant_type"}

    def impersonate(self, email: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        sts_tokens = {f"Bearer {token}" for how, token in self.issued if how == "sts"}
        if authorization not in sts_tokens or email != SERVICE_ACCOUNT:
            return 403, {
                "error": {"code": 403, "message": "Permission 'iam.serviceAccounts.getAccessToken' denied"}
            }
        token = self.issue("iam")
        expires = (datetime.now(UTC) + timedelta(seconds=self.expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, {"accessToken": token, "expireTime": expires}

    def metadata(self, path: str) -> tuple[int, Any]:
        name = path.removeprefix(METADATA)
        if name == "instance/service-accounts/default/token":
            return 200, {
                "access_token": self.issue("metadata"),
                "expires_in": self.expires_in,
                "token_type": "Bearer",
            }
        if name == "instance/service-accounts/default/":
            return 200, {
                "email": SERVICE_ACCOUNT,
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "aliases": ["default"],
            }
        if name == "project/project-id":
            return 200, "acme"
        if name == "universe/universe-domain":
            return 200, "googleapis.com"
        return 404, "not found"

    # -- the API --------------------------------------------------------------------------------

    def run_job(self, job_path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_path)
        if job is None:
            return 404, {"error": {"code": 404, "message": f"Resource '{job_path}' was not found"}}
        overrides = body.get("overrides", {})
        (container,) = overrides.get("containerOverrides", [{}])
        args = list(container.get("args", []))
        env = {**os.environ, **job.env, **{e["name"]: e["value"] for e in container.get("env", [])}}
        timeout = float(overrides["timeout"].rstrip("s")) if "timeout" in overrides else None
        short = job_path.rsplit("/", 1)[1]
        name = f"{job_path}/executions/{short}-{uuid.uuid4().hex[:5]}"
        process = subprocess.Popen(
            [*job.command, *args], env=env, cwd=job.cwd, start_new_session=True, stdin=subprocess.DEVNULL
        )
        execution = Execution(name, process, args, env, timeout, time.monotonic())
        with self._lock:
            self.executions[name] = execution
            mode = self.misbehave.pop(0) if self.misbehave else None
        if mode == "cancel":
            execution.stop("cancelled", "The execution was cancelled.")
        elif mode == "fail":
            execution.stop("failed", f"Task {name}-task0 was terminated: out of memory")
        project, location = job_path.split("/")[1], job_path.split("/")[3]
        operation = {
            "name": f"projects/{project}/locations/{location}/operations/{uuid.uuid4()}",
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.run.v2.Execution",
                **execution.resource(),
            },
            "done": False,
        }
        return 200, operation

    def get_execution(self, name: str) -> tuple[int, dict[str, Any]]:
        execution = self.executions.get(name)
        if execution is None:
            return 404, {"error": {"code": 404, "message": f"Resource '{name}' was not found"}}
        return 200, execution.resource()

    def cancel_execution(self, name: str) -> tuple[int, dict[str, Any]]:
        execution = self.executions.get(name)
        if execution is None:
            return 404, {"error": {"code": 404, "message": f"Resource '{name}' was not found"}}
        execution.refresh()
        if execution.outcome is None:
            execution.stop("cancelled", "The execution was cancelled.")
        return 200, {"name": f"{name}/operations/cancel", "done": True, "response": execution.resource()}


def _jwt_claims(assertion: str) -> dict[str, Any]:
    try:
        payload = assertion.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims


def _handler(standin: CloudRunStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: Any, *, metadata: bool = False) -> None:
            text = isinstance(body, str)
            data = body.encode() if text else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            if metadata:
                self.send_header("Metadata-Flavor", "Google")
            self.end_headers()
            self.wfile.write(data)

        def _raw(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _body(self) -> dict[str, Any] | None:
            raw = self._raw()
            return json.loads(raw) if raw else None

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") in {f"Bearer {token}" for token in standin.accepted}:
                return True
            self._reply(
                401, {"error": {"code": 401, "message": "Request had invalid authentication credentials."}}
            )
            return False

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            standin.requests.append(("GET", path, None))
            if path == "/" or path.startswith(METADATA):
                if self.headers.get("Metadata-Flavor") != "Google":
                    self._reply(403, "missing Metadata-Flavor header", metadata=True)
                elif path == "/":
                    self._reply(200, "computeMetadata/", metadata=True)  # the detection ping
                else:
                    status, body = standin.metadata(path)
                    self._reply(status, body, metadata=True)
                return
            match = _EXECUTION.match(self.path)
            if not self._authorised():
                return
            if match is None or match.group(2):
                self._reply(404, {"error": {"code": 404, "message": "not found"}})
                return
            self._reply(*standin.get_execution(match.group(1)))

        def do_POST(self) -> None:
            if self.path == "/token":
                form = {k: v[-1] for k, v in parse_qs(self._raw().decode()).items()}
                standin.requests.append(("POST", self.path, form))
                self._reply(*standin.token_grant(form))
                return
            impersonate = _IMPERSONATE.match(self.path)
            if impersonate is not None:
                standin.requests.append(("POST", self.path, self._body()))
                self._reply(*standin.impersonate(impersonate.group(1), self.headers.get("Authorization")))
                return
            body = self._body()
            standin.requests.append(("POST", self.path, body))
            if not self._authorised():
                return
            run = _RUN.match(self.path)
            if run is not None:
                self._reply(*standin.run_job(run.group(1), body or {}))
                return
            execution = _EXECUTION.match(self.path)
            if execution is not None and execution.group(2) == ":cancel":
                self._reply(*standin.cancel_execution(execution.group(1)))
                return
            self._reply(404, {"error": {"code": 404, "message": "not found"}})

    return Handler
