"""``litestar-queues status | retry | cancel``, ``-v``/``-q``, and which targets the CLI accepts."""

from __future__ import annotations

import json
import logging
import textwrap
import uuid
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueConfigurationError, QueueService, cli
from litestar_queues.cli import load_service, main

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("aiosqlite")

APP = textwrap.dedent(
    """
    import os
    from litestar_queues import QueueConfig, QueueService, TaskRegistry, task

    registry = TaskRegistry()
    CALLED = []


    @task("admin.job", registry=registry)
    async def job(n: int) -> int:
        return n


    config = QueueConfig(queue_backend=os.environ["ADMIN_DB_URL"], registry=registry)
    memory = QueueConfig(registry=registry)


    def factory():
        return config


    def factory_returning_junk():
        return 42


    def takes_arguments(path) -> QueueConfig:
        CALLED.append(path)
        return config


    def says_it_returns_a_str() -> str:
        CALLED.append("str")
        return "no"


    class Holder:
        def method(self) -> QueueConfig:
            return config
    """
)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    module = f"admin_app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP)
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    monkeypatch.setenv("ADMIN_DB_URL", url)
    monkeypatch.syspath_prepend(str(tmp_path))
    return module, url


def _with_service(module: str, action: Any) -> Any:
    config: QueueConfig = __import__(module).config

    async def run() -> Any:
        async with QueueService(config) as service:
            return await action(service)

    return anyio.run(run)


def test_status_retry_and_cancel(app: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    module, _ = app
    target = f"{module}:config"
    assert main(["status", target]) == 0
    assert capsys.readouterr().out.strip() == "no tasks"

    async def enqueue(service: QueueService) -> str:
        await service.enqueue("admin.job", 1, queue="reports")
        return str((await service.enqueue("admin.job", 2)).id)

    task_id = _with_service(module, enqueue)
    assert main(["status", target, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"default": {"pending": 1}, "reports": {"pending": 1}}
    assert main(["status", target]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split() for line in table] == [
        ["queue", "status", "count"],
        ["default", "pending", "1"],
        ["reports", "pending", "1"],
        [],
        ["finished", "in", "the", "last", "hour:"],
        ["queue", "completed", "failed"],
        ["default", "0", "0"],
        ["reports", "0", "0"],
    ]
    assert main(["cancel", target, task_id]) == 0
    assert capsys.readouterr().out.strip() == f"task {task_id} is cancelled"
    assert main(["retry", target, task_id]) == 0
    assert capsys.readouterr().out.strip() == f"task {task_id} was cancelled: requeued, now pending"
    assert main(["status", f"{module}:factory", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"default": {"pending": 1}, "reports": {"pending": 1}}
    unknown = str(uuid.uuid4())
    assert main(["cancel", target, unknown]) == 1
    assert f"no task record with id {unknown}" in capsys.readouterr().err


def test_status_on_a_process_local_backend_says_so(
    app: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    module, _ = app
    assert main(["status", f"{module}:memory"]) == 2
    captured = capsys.readouterr()
    assert "no tasks" not in captured.out
    assert "keeps its tasks in the memory of the process that runs the app" in captured.err
    assert "sqlite:///queue.db" in captured.err


@pytest.mark.parametrize(
    ("target", "found"),
    [
        ("os:system", "is a builtin_function_or_method (posix.system)"),
        ("shutil:rmtree", "is a function (shutil.rmtree, needing arguments path)"),
        ("subprocess:Popen", "is a type (subprocess.Popen)"),
        ("{module}:takes_arguments", "needing arguments path"),
        ("{module}:says_it_returns_a_str", "returning str"),
        ("{module}:Holder", "is a type"),
        ("{module}:factory_returning_junk", "returned a int"),
    ],
)
def test_only_configs_services_and_zero_argument_factories_are_accepted(
    app: tuple[str, str], target: str, found: str
) -> None:
    module, _ = app
    with pytest.raises(QueueConfigurationError) as caught:
        load_service(target.format(module=module))
    message = str(caught.value)
    assert found in message
    assert message.endswith(
        "expected a QueueConfig, a QueueService, or a function without arguments that returns one"
    )
    assert "\n" not in message
    assert __import__(module).CALLED == []  # nothing that asks for arguments or returns a str ran


def test_the_worker_command_refuses_os_system_before_running_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["worker", "os:system"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("litestar-queues: os:system is a builtin")


def test_v_and_q_move_the_level() -> None:
    assert cli.log_level(logging.INFO) == logging.INFO
    assert cli.log_level(logging.INFO, quiet=1) == logging.WARNING
    assert cli.log_level(logging.INFO, quiet=5) == logging.CRITICAL
    assert cli.log_level(logging.INFO, verbose=1) == logging.DEBUG
    assert cli.log_level(logging.WARNING, verbose=3) == logging.DEBUG
