"""``litestar-queues list | show | retry | cancel`` on SQLite, Redis and PostgreSQL (issue 16)."""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService
from litestar_queues.cli import main

if TYPE_CHECKING:
    from pathlib import Path

APP = textwrap.dedent(
    """
    import os
    from litestar_queues import QueueConfig, TaskRegistry, task

    registry = TaskRegistry()


    @task("cli.render", registry=registry, queue="reports")
    async def render(n: int) -> int:
        if n < 0:
            raise ValueError(f"cannot render {n}")
        return n


    @task("cli.mail", registry=registry)
    async def mail(to: str) -> None:
        return None


    config = QueueConfig(queue_backend=os.environ["READ_MODEL_URL"], registry=registry)
    """
)

BACKENDS = {"sqlite": "sqlite_url", "redis": "redis_url", "postgres": "postgres_url"}


def install_app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, url_env: str
) -> str:
    """Write ``source`` as an importable module whose backend URL (``url_env``) is the param's server."""
    url = str(request.getfixturevalue(BACKENDS[request.param]))
    module = f"cli_app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.setenv(url_env, url)
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


@pytest.fixture(params=list(BACKENDS))
def app(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return install_app(request, tmp_path, monkeypatch, APP, "READ_MODEL_URL")


def _with_service(module: str, action: Any) -> Any:
    config: QueueConfig = __import__(module).config

    async def run() -> Any:
        async with QueueService(config) as service:
            return await action(service)

    return anyio.run(run)


def _out(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> list[str]:
    assert main(list(argv)) == code, capsys.readouterr()
    captured = capsys.readouterr()
    return (captured.out if code == 0 else captured.err).strip().splitlines()


def test_find_what_failed_and_why_then_retry_it(app: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{app}:config"

    async def scenario(service: QueueService) -> dict[str, str]:
        handles = [await service.enqueue("cli.render", n) for n in (1, -2, 3, -4)]
        await service.enqueue("cli.mail", "a@example.com")
        async with service.worker(poll_interval=0.05):
            for handle in handles:
                await handle.wait(timeout=30)
        return {str(h.record.args[0]): str(h.id) for h in handles}

    ids = _with_service(app, scenario)
    failed = _out(capsys, "list", target, "--status", "failed")
    assert [line.split()[0] for line in failed] == [ids["-4"], ids["-2"]]  # newest first
    assert all("ValueError: cannot render" in line for line in failed)

    listed = json.loads(_out(capsys, "list", target, "--queue", "reports", "--oldest-first", "--json")[0])
    assert [t["id"] for t in listed["tasks"]] == [ids["1"], ids["-2"], ids["3"], ids["-4"]]
    assert listed["next_cursor"] is None

    shown: list[str] = []
    page = _out(capsys, "list", target, "--limit", "2")
    while page[-1].startswith("more: --cursor "):
        shown += [line.split()[0] for line in page[:-1]]
        page = _out(capsys, "list", target, "--limit", "2", "--cursor", page[-1].split()[-1])
    shown += [line.split()[0] for line in page]
    assert len(shown) == len(set(shown)) == 5

    details = _out(capsys, "show", target, ids["-2"])
    assert "status    failed" in details
    assert any(line.startswith("  run 1: failed on worker-") for line in details)
    assert any("raise ValueError" in line for line in details)  # the traceback is kept
    as_json = json.loads(_out(capsys, "show", target, ids["-2"], "--json")[0])
    assert as_json["history"][0]["verdict"] == "failed"

    one = ids["-2"]
    assert _out(capsys, "retry", target, one) == [f"task {one} was failed: requeued, now pending"]
    assert _out(capsys, "retry", target, one) == [f"task {one} is already pending: not retried again"]
    assert _out(capsys, "retry", target, "--failed", "--queue", "reports") == ["requeued 1 failed task(s)"]
    assert _out(capsys, "list", target, "--status", "failed") == ["no tasks match"]
    status = json.loads(_out(capsys, "status", target, "--json")[0])
    assert status["reports"] == {"completed": 2, "pending": 2}


def test_cancel_by_filter_and_bad_input_change_nothing(app: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{app}:config"

    async def enqueue(service: QueueService) -> None:
        for n in range(3):
            await service.enqueue("cli.render", n)
        await service.enqueue("cli.mail", "b@example.com")

    _with_service(app, enqueue)
    assert "needs at least one of --queue" in _out(capsys, "cancel", target, code=2)[0]
    assert "unknown status 'lost'" in _out(capsys, "list", target, "--status", "lost", code=2)[0]
    assert "malformed cursor" in _out(capsys, "list", target, "--cursor", "not-a-cursor", code=2)[0]
    assert "give a task id, or --failed" in _out(capsys, "retry", target, code=2)[0]
    assert json.loads(_out(capsys, "status", target, "--json")[0]) == {
        "default": {"pending": 1},
        "reports": {"pending": 3},
    }
    assert _out(capsys, "cancel", target, "--queue", "reports") == ["cancelled 3 task(s)"]
    assert json.loads(_out(capsys, "status", target, "--json")[0]) == {
        "default": {"pending": 1},
        "reports": {"cancelled": 3},
    }
