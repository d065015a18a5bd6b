"""A new user's install from the built wheels: ``pip install "litestar-queues[litestar,redis,sql]"``.

One wheel build and one fresh venv for the module (plain pip, no ``--pre``, no pins; the
third-party dependencies come from the package index). In that venv:

* the documented line resolves to these distributions (not an older release on the index), with
  a driver for SQLite and httpx below 1.0;
* a SQLite enqueue and a ``litestar-queues worker`` round trip;
* a Litestar app served by uvicorn[standard] streams a task's events over a WebSocket;
* each wheel's metadata renders on the package index: Markdown long description with absolute
  links only, project URLs, classifiers, the license file.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import textwrap
import time
import zipfile
from email.parser import Parser
from typing import TYPE_CHECKING

import pytest

from tests.acceptance._wheels import DISTRIBUTIONS, Venv, build_wheels

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wheels-install")


@pytest.fixture(scope="module")
def wheels(workdir: Path) -> Path:
    return build_wheels(workdir)


@pytest.fixture(scope="module")
def venv(workdir: Path, wheels: Path) -> Venv:
    env = Venv(workdir / "venv")
    env.pip("install", "--quiet", "--find-links", str(wheels), "litestar-queues[litestar,redis,sql]")
    env.pip("install", "--quiet", "uvicorn[standard]")
    return env


def test_the_documented_line_installs_these_distributions(venv: Venv) -> None:
    versions = venv.versions()
    for name in (
        "litestar-queues",
        "litestar-queues-litestar",
        "litestar-queues-redis",
        "litestar-queues-sql",
    ):
        assert versions.get(name) == "1.0.0", (name, versions.get(name))
    assert "aiosqlite" in versions  # [sql] is enough for sqlite://
    assert int(versions["httpx"].split(".")[0]) == 0  # Litestar's test client needs httpx 0.x
    assert "litestar-queues-cloudrun" not in versions


WORKER_APP = textwrap.dedent(
    """
    from litestar_queues import QueueConfig, WorkerConfig, task


    @task("install.add")
    async def add(a: int, b: int) -> int:
        return a + b


    config = QueueConfig(queue_backend="sqlite:///queue.db", worker=WorkerConfig(poll_interval=0.1))
    """
)

ROUND_TRIP = textwrap.dedent(
    """
    import signal, subprocess, sys
    from pathlib import Path

    import anyio

    from litestar_queues import QueueService
    from queue_app import add, config


    async def main() -> None:
        async with QueueService(config) as service:
            result = await service.enqueue(add, 2, 3)
            script = Path(sys.executable).parent / "litestar-queues"
            command = [str(script), "worker", "queue_app:config"]
            worker = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
            try:
                await result.wait(timeout=60)
            finally:
                worker.send_signal(signal.SIGTERM)
                _, log = worker.communicate(timeout=60)
            print(result.status, result.result, worker.returncode)
            print(log)


    anyio.run(main)
    """
)


def test_sqlite_enqueue_and_cli_worker_round_trip(venv: Venv, tmp_path: Path) -> None:
    (tmp_path / "queue_app.py").write_text(WORKER_APP)
    (tmp_path / "round_trip.py").write_text(ROUND_TRIP)
    proc = venv.run("round_trip.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, *log = proc.stdout.splitlines()
    assert first == "completed 5 0", proc.stdout
    assert any("task install.add id=" in line and "outcome=completed" in line for line in log), log
    assert (tmp_path / "queue.db").exists()


STREAM_APP = textwrap.dedent(
    """
    import anyio
    from litestar import Litestar, post, websocket
    from litestar.channels import ChannelsPlugin
    from litestar.channels.backends.memory import MemoryChannelsBackend
    from litestar.connection import WebSocket
    from litestar.di import NamedDependency
    from litestar.params import FromPath

    from litestar_queues import QueueConfig, QueuePlugin, QueueService, task
    from litestar_queues.events import (
        QueueChannels,
        QueueEventConfig,
        publish_task_log,
        publish_task_progress,
        stream_queue_events,
    )

    channels = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    config = QueueConfig(
        queue_backend="sqlite:///stream.db",
        event_config=QueueEventConfig(enabled=True, channels_backend=channels),
    )


    @task("install.report")
    def report(name: str) -> str:
        import time

        time.sleep(1.0)  # the client subscribes meanwhile
        publish_task_log(f"building {name}")  # a sync task: no await
        publish_task_progress(1, 2, message="half way")
        return name


    @post("/reports/{name:str}")
    async def start(name: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, str]:
        return {"task_id": str((await queue_service.enqueue(report, name)).id)}


    @websocket("/tasks/{task_id:str}/events")
    async def events(socket: WebSocket, task_id: str) -> None:
        await stream_queue_events(socket, [QueueChannels.task(task_id)])


    app = Litestar([start, events], plugins=[channels, QueuePlugin(config)])
    """
)

CLIENT = textwrap.dedent(
    """
    import json, sys, urllib.request

    from websockets.sync.client import connect

    base = sys.argv[1]
    request = urllib.request.Request(f"http://{base}/reports/q3", method="POST")
    task_id = json.loads(urllib.request.urlopen(request, timeout=30).read())["task_id"]
    with connect(f"ws://{base}/tasks/{task_id}/events", open_timeout=30) as ws:
        while True:
            event = json.loads(ws.recv(timeout=30))
            print(event["type"], event.get("message") or "")
            if event["type"] in ("task.completed", "task.failed"):
                break
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_litestar_app_under_uvicorn_streams_task_events(venv: Venv, tmp_path: Path) -> None:
    (tmp_path / "stream_app.py").write_text(STREAM_APP)
    (tmp_path / "client.py").write_text(CLIENT)
    port = _free_port()
    server = subprocess.Popen(
        [str(venv.bin / "uvicorn"), "stream_app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=venv.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, server.communicate()[0]
            time.sleep(0.1)
        proc = venv.run("client.py", f"127.0.0.1:{port}", cwd=tmp_path, timeout=90)
    finally:
        server.send_signal(signal.SIGTERM)
        log, _ = server.communicate(timeout=60)
    assert proc.returncode == 0, proc.stderr + log
    received = proc.stdout.splitlines()
    if received[:1] == ["task.started "]:  # published before the socket subscribed, or after
        received = received[1:]
    assert received == ["task.log building q3", "task.progress half way", "task.completed "], (
        proc.stdout + log
    )


def _metadata(wheel: Path) -> tuple[dict[str, list[str]], str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (path,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(path).decode())
    headers: dict[str, list[str]] = {}
    for key, value in message.items():
        headers.setdefault(key, []).append(value)
    return headers, str(message.get_payload()), names


def test_each_wheel_renders_on_the_package_index(wheels: Path) -> None:
    found = sorted(wheels.glob("*.whl"))
    assert len(found) == len(DISTRIBUTIONS)
    for wheel in found:
        headers, description, names = _metadata(wheel)
        name = headers["Name"][0]
        assert headers["Version"] == ["1.0.0"], name
        assert headers["Description-Content-Type"] == ["text/markdown"], name
        assert headers["License-Expression"] == ["MIT"], name
        assert headers["License-File"] == ["LICENSE"], name
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), name
        urls = dict(value.split(", ", 1) for value in headers["Project-URL"])
        assert urls["Repository"] == "https://github.com/litestar-org/litestar-queues", name
        assert {"Homepage", "Documentation", "Issues"} <= set(urls), name
        assert "License :: OSI Approved :: MIT License" in headers["Classifier"], name
        assert "Programming Language :: Python :: 3.11" in headers["Classifier"], name
        assert description.count("\n") > 10, f"{name}: the long description is a one-liner"
        targets = re.findall(r"\]\(([^)]+)\)", description)
        relative = [t for t in targets if not t.startswith(("https://", "http://", "#", "mailto:"))]
        assert not relative, f"{name}: relative links do not resolve on the package index: {relative}"
        assert "pip install" in description, name
        if name == "litestar-queues-litestar":  # the dashboard's templates and assets ship in the wheel
            dashboard = "litestar_queues_litestar/dashboard/"
            for asset in (
                "templates/base.html",
                "templates/_task.html",
                "static/dashboard.js",
                "static/dashboard.css",
            ):
                assert dashboard + asset in names, asset
        for requirement in headers.get("Requires-Dist", []):
            # in the version specifiers only: a name may end in a letter and a digit (jinja2)
            pre_release = re.search(r"[<>=!~]=?\s*[\d.]+(a|b|rc|\.dev)\d", requirement)
            assert not pre_release, f"{name}: pre-release needed: {requirement}"
