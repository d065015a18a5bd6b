"""``pip install litestar-queues`` alone (from the built wheels): every missing piece says how to add it.

One wheel build and one fresh venv for the module. With the core alone: a Redis, SQLite or
PostgreSQL URL, the Litestar plugin, the ``cloudrun`` execution backend, a cron schedule and the
metrics and traces observers each fail with a typed error naming the ``pip install`` line. Then
the SQL adapter is added without its drivers (``--no-deps``, SQLAlchemy by hand): each URL names
the line that brings its driver.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from typing import TYPE_CHECKING

import pytest

from tests.acceptance._wheels import Venv, build_wheels

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

PROBE = textwrap.dedent(
    """
    import json, sys

    import anyio

    from litestar_queues import QueueConfig, QueueConfigurationError, QueueService, task

    found = {}
    for url in sys.argv[1:]:
        try:
            QueueService(QueueConfig(queue_backend=url))
        except QueueConfigurationError as exc:
            found[url] = str(exc)
        else:
            found[url] = "no error"
    try:
        from litestar_queues import QueuePlugin  # noqa: F401
    except ImportError as exc:
        found["QueuePlugin"] = str(exc)


    @task("probe.job")
    async def job() -> None:
        return None


    async def cloudrun() -> None:
        async with QueueService(QueueConfig()) as service:
            await service.enqueue(job, execution_backend="cloudrun")


    try:
        anyio.run(cloudrun)
    except QueueConfigurationError as exc:
        found["cloudrun"] = str(exc)

    from litestar_queues.exceptions import CronNotInstalledError
    from litestar_queues.schedules import Schedule

    Schedule(name="probe.poll", task="probe.job", interval=60)  # intervals need no extra
    try:
        Schedule(name="probe.nightly", task="probe.job", cron="0 3 * * *")
    except CronNotInstalledError as exc:
        found["cron"] = str(exc)

    from litestar_queues import ExtraNotInstalledError
    from litestar_queues.observability import OpenTelemetryObserver, PrometheusObserver

    try:
        PrometheusObserver()
    except ExtraNotInstalledError as exc:
        found["prometheus"] = str(exc)
    try:
        OpenTelemetryObserver()
    except ExtraNotInstalledError as exc:
        found["otel"] = str(exc)
    print(json.dumps(found))
    """
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wheels-core-only")


@pytest.fixture(scope="module")
def wheels(workdir: Path) -> Path:
    return build_wheels(workdir)


@pytest.fixture(scope="module")
def venv(workdir: Path, wheels: Path) -> Venv:
    env = Venv(workdir / "venv")
    env.pip("install", "--quiet", "--find-links", str(wheels), "litestar-queues")
    (workdir / "probe.py").write_text(PROBE)
    return env


def _probe(venv: Venv, *urls: str) -> dict[str, str]:
    proc = venv.run("probe.py", *urls, cwd=venv.path.parent)
    assert proc.returncode == 0, proc.stderr
    found: dict[str, str] = json.loads(proc.stdout)
    return found


def test_the_core_alone_names_each_missing_adapter(venv: Venv) -> None:
    versions = venv.versions()
    assert versions["litestar-queues"] == "1.0.0"
    assert not {name for name in versions if name.startswith("litestar-queues-")}
    found = _probe(venv, "redis://localhost:6379/0", "sqlite:///queue.db", "postgresql://app@db/app")
    assert found["redis://localhost:6379/0"].endswith('pip install "litestar-queues[redis]"')
    assert found["sqlite:///queue.db"].endswith('pip install "litestar-queues[sql]"')
    assert found["postgresql://app@db/app"].endswith('pip install "litestar-queues[postgres]"')
    assert "litestar-queues[litestar]" in found["QueuePlugin"]
    assert 'pip install "litestar-queues[cloudrun]"' in found["cloudrun"]
    assert found["cron"].endswith('pip install "litestar-queues[cron]"')
    assert found["prometheus"].endswith('pip install "litestar-queues[prometheus]"')
    assert found["otel"].endswith('pip install "litestar-queues[otel]"')


def test_the_dashboard_command_names_its_extra(venv: Venv) -> None:
    proc = subprocess.run(
        [str(venv.bin / "litestar-queues"), "dashboard", "sqlite:///queue.db"],
        cwd=venv.path.parent,
        env=venv.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().endswith('pip install "litestar-queues[dashboard]"'), proc.stderr


def test_the_sql_adapter_without_drivers_names_each_driver(venv: Venv, wheels: Path) -> None:
    (sql_wheel,) = wheels.glob("litestar_queues_sql-*.whl")
    venv.pip("install", "--quiet", "--no-deps", str(sql_wheel))
    venv.pip("install", "--quiet", "sqlalchemy[asyncio]>=2.0.30")
    urls = ("sqlite:///queue.db", "postgresql://app@db/app", "postgresql+psycopg://app@db/app")
    found = _probe(venv, *urls)
    assert "the aiosqlite driver" in found[urls[0]]
    assert found[urls[0]].endswith('pip install "litestar-queues[sql]"')
    assert "the asyncpg driver" in found[urls[1]]
    assert found[urls[1]].endswith('pip install "litestar-queues[postgres]"')
    assert "the psycopg driver" in found[urls[2]]
    assert found[urls[2]].endswith('pip install "litestar-queues[psycopg]"')
