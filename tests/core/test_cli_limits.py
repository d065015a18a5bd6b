"""``litestar-queues limits | limit`` and the limits in ``status``: SQLite, Redis, PostgreSQL (issue 21)."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

import anyio
import pytest

from litestar_queues import QueueLimit
from tests.core.test_cli_read_model import BACKENDS, _out, _with_service, install_app

if TYPE_CHECKING:
    from pathlib import Path

    from litestar_queues import QueueService

APP = textwrap.dedent(
    """
    import os
    from litestar_queues import QueueConfig, QueueLimit, TaskRegistry, WorkerConfig, task

    registry = TaskRegistry()


    @task("limits.mail", registry=registry, queue="mail")
    async def mail(n: int) -> int:
        return n


    config = QueueConfig(
        queue_backend=os.environ["LIMITS_URL"],
        registry=registry,
        worker=WorkerConfig(poll_interval=0.05),
        limits={"reports": QueueLimit(concurrency=2)},
    )
    """
)


@pytest.fixture(params=list(BACKENDS))
def app(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return install_app(request, tmp_path, monkeypatch, APP, "LIMITS_URL")


def _limits(capsys: pytest.CaptureFixture[str], target: str) -> dict[str, dict[str, object]]:
    listed: dict[str, dict[str, object]] = json.loads(_out(capsys, "limits", target, "--json")[0])
    return listed


def test_limit_sets_changes_and_clears_a_queue_limit(app: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{app}:config"
    assert _out(capsys, "limits", target)[0].startswith("no limits")
    set_lines = _out(capsys, "limit", target, "mail", "--concurrency", "5", "--rate", "60/1m")
    assert set_lines[0] == "queue mail: limit set to concurrency 5, 60 per 1m"
    assert _out(capsys, "limit", target, "imports", "--key-concurrency", "1")[0] == (
        "queue imports: limit set to 1 per limit key"
    )
    assert _out(capsys, "limits", target) == [
        "queue    concurrency  rate   key concurrency",
        "imports  -            -      1",
        "mail     5            60/1m  -",
    ]
    assert _limits(capsys, target) == {
        "imports": {"concurrency": None, "rate": None, "per": None, "key_concurrency": 1},
        "mail": {"concurrency": 5, "rate": 60, "per": 60.0, "key_concurrency": None},
    }
    _out(capsys, "limit", target, "mail", "--rate", "10/s")
    expected = {"concurrency": None, "rate": 10, "per": 1.0, "key_concurrency": None}
    assert _limits(capsys, target)["mail"] == expected
    assert _out(capsys, "limit", target, "mail", "--clear") == ["queue mail: limit removed"]
    assert list(_limits(capsys, target)) == ["imports"]
    status = _out(capsys, "status", target)
    assert status[-2:] == ["limits:", "  imports  1 per limit key"]
    stored = _with_service(app, lambda service: service.limits())
    assert stored == {"imports": QueueLimit(key_concurrency=1)}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ((), "give --concurrency N, --rate N/PERIOD or --key-concurrency N (or --clear"),
        (("--concurrency", "0"), "--concurrency must be a whole number from 1 to"),
        (("--key-concurrency", "-1"), "--key-concurrency must be a whole number from 1 to"),
        (("--rate", "60"), "--rate takes N/PERIOD, e.g. 60/1m"),
        (("--rate", "60/1y"), "--rate takes N/PERIOD"),
        (("--rate", "0/1m"), "--rate needs from 1 to"),
        (("--rate", "5/0s"), "--rate needs a period from 0.001 s"),
        (("--clear", "--concurrency", "3"), "--clear removes the queue's limit: give it alone"),
        (("--concurrency", "three"), "invalid int value"),
    ],
)
def test_bad_input_exits_2_naming_the_fix_and_stores_nothing(
    app: str, capsys: pytest.CaptureFixture[str], options: tuple[str, ...], message: str
) -> None:
    target = f"{app}:config"
    if options == ("--concurrency", "three"):  # argparse's own refusal
        with pytest.raises(SystemExit) as exited:
            _out(capsys, "limit", target, "mail", *options, code=2)
        assert exited.value.code == 2
        assert message in capsys.readouterr().err
    else:
        assert message in "\n".join(_out(capsys, "limit", target, "mail", *options, code=2))
    assert _limits(capsys, target) == {}


def test_a_worker_writes_the_configured_limits_and_a_run_time_change_stays_until_then(
    app: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"{app}:config"
    _out(capsys, "limit", target, "mail", "--concurrency", "7")

    async def start_a_worker(service: QueueService) -> None:
        async with service.worker():
            await anyio.sleep(0.1)

    _with_service(app, start_a_worker)
    # the configured queue is written; the queue the config does not name keeps what is stored
    assert _limits(capsys, target) == {
        "mail": {"concurrency": 7, "rate": None, "per": None, "key_concurrency": None},
        "reports": {"concurrency": 2, "rate": None, "per": None, "key_concurrency": None},
    }
    _out(capsys, "limit", target, "reports", "--concurrency", "9")
    assert _limits(capsys, target)["reports"]["concurrency"] == 9  # stays until a worker starts
    _with_service(app, start_a_worker)
    assert _limits(capsys, target)["reports"]["concurrency"] == 2
