"""``litestar-queues dashboard QUEUE_URL``: the pages without an app of your own, and what it refuses."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend

from litestar_queues import QueueConfig, QueueService
from litestar_queues.cli import main
from litestar_queues.events import QueueEventConfig
from litestar_queues.exceptions import ExtraNotInstalledError
from litestar_queues_litestar import QueuePlugin
from litestar_queues_litestar.dashboard import DashboardConfig
from litestar_queues_litestar.dashboard.standalone import PASSWORD_ENV, standalone_app
from tests.dashboard._apps import ok, registry
from tests.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

CONSOLE_SCRIPT = Path(sys.executable).parent / "litestar-queues"


def test_another_host_than_loopback_needs_a_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "sqlite:///queue.db", "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert "needs a password" in error and PASSWORD_ENV in error and "127.0.0.1" in error


def test_a_process_local_backend_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "memory://"]) == 2
    assert "keeps its tasks in the memory of one process" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["uvicorn", "jinja2", "litestar_queues_litestar.dashboard.standalone"])
def test_a_missing_extra_is_named(
    missing: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    assert main(["dashboard", "sqlite:///queue.db"]) == 2
    assert 'pip install "litestar-queues[dashboard]"' in capsys.readouterr().err


def test_the_plugin_names_the_extra_when_jinja2_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ExtraNotInstalledError, match=r"litestar-queues-litestar\[dashboard\]"):
        QueuePlugin(QueueConfig(), dashboard=DashboardConfig())


channels = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)
with_events = QueueConfig(
    queue_backend="sqlite:///queue.db", event_config=QueueEventConfig(enabled=True, channels_backend=channels)
)


def test_a_config_whose_events_go_to_channels_brings_its_channels_plugin() -> None:
    app = standalone_app(f"{__name__}:with_events")
    assert app.plugins.get(ChannelsPlugin) is channels
    assert app.plugins.get(QueuePlugin).config.worker.in_app is False
    with pytest.raises(KeyError):
        standalone_app("sqlite:///queue.db", host="localhost").plugins.get(ChannelsPlugin)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The real console script serving a SQLite file that holds one completed task."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"

    async def fill() -> None:
        config = QueueConfig(queue_backend=url, registry=registry)
        async with QueueService(config) as service:
            handle = await service.enqueue(ok, queue="mail")
            async with service.worker(poll_interval=0.05):
                await handle.wait(timeout=10)

    anyio.run(fill)
    port = free_port()
    env = {**os.environ, PASSWORD_ENV: "pw"}
    command = [str(CONSOLE_SCRIPT), "dashboard", url, "--port", str(port), "--user", "ops"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        log = proc.communicate(timeout=30)[0]
    assert proc.returncode in (0, -signal.SIGTERM), log  # uvicorn re-raises the signal it drained on
    assert "(basic auth)" in log


def test_the_console_script_serves_the_pages_behind_basic_auth(served: str) -> None:
    refused = httpx.get(f"{served}/")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(f"{served}/", headers=_basic("ops", "nope")).status_code == 401
    auth = _basic("ops", "pw")
    page = httpx.get(f"{served}/", headers=auth)
    assert page.status_code == 200 and 'data-queue="mail"' in page.text
    tasks = httpx.get(f"{served}/tasks?queue=mail", headers=auth)
    assert tasks.status_code == 200 and "unit.ok" in tasks.text
    paused = httpx.post(f"{served}/actions/pause", data={"queue": "mail"}, headers={**auth, "Origin": served})
    assert paused.status_code == 200 and "queue mail paused" in paused.text
    assert "badge-paused" in httpx.get(f"{served}/fragments/queues", headers=auth).text
