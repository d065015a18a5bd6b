"""The console script's target loading and its error paths."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from litestar_queues import QueueConfigurationError, QueueService
from litestar_queues.cli import load_service, main

APP = textwrap.dedent(
    """
    from litestar_queues import MemoryQueueBackend, QueueConfig, QueueService, TaskRegistry, task

    registry = TaskRegistry()


    @task("cli.job", registry=registry)
    async def job() -> None:
        return None


    config = QueueConfig(queue_backend=MemoryQueueBackend(), registry=registry)
    service = QueueService(config)


    def make_service() -> QueueService:
        return QueueService(config)


    class Holder:
        config = config


    not_a_config = 42
    """
)


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "cli_app_mod.py").write_text(APP)
    (tmp_path / "cli_broken_mod.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "cli_app_mod"


def test_load_service_accepts_config_service_factory_and_dotted_attr(app_module: str) -> None:
    import cli_app_mod  # type: ignore[import-not-found]

    assert load_service(f"{app_module}:service") is cli_app_mod.service
    for target in ("config", "make_service", "Holder.config"):
        service = load_service(f"{app_module}:{target}")
        assert isinstance(service, QueueService) and service.config is cli_app_mod.config


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("cli_app_mod", "expected MODULE:ATTR"),
        ("cli_app_mod:", "expected MODULE:ATTR"),
        ("no_such_module_xyz:config", "cannot import module 'no_such_module_xyz'"),
        ("cli_app_mod:missing", "has no attribute 'missing'"),
        ("cli_app_mod:not_a_config", "is a int, not a QueueConfig or QueueService"),
        ("cli_app_mod:job", "is a Task, not a QueueConfig or QueueService"),
    ],
)
def test_bad_targets_are_configuration_errors(app_module: str, target: str, message: str) -> None:
    with pytest.raises(QueueConfigurationError, match=message):
        load_service(target)


def test_a_missing_import_inside_the_module_is_not_hidden(app_module: str) -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        load_service("cli_broken_mod:config")


def test_main_reports_a_bad_target_with_status_2(app_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "cli_app_mod:missing"]) == 2
    assert "has no attribute 'missing'" in capsys.readouterr().err


def test_console_script_usage_error(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "litestar-queues"
    proc = subprocess.run(
        [str(script), "worker", "no_such_module_xyz:config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "litestar-queues: cannot import module 'no_such_module_xyz'" in proc.stderr
    assert "Traceback" not in proc.stderr
