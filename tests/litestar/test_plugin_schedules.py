"""The plugin's in-app worker runs the app's schedules; its lifespan refuses a schedule of an unknown task."""

from __future__ import annotations

import threading

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from litestar_queues import (
    QueueConfig,
    QueuePlugin,
    Schedule,
    ScheduleError,
    TaskRegistry,
    WorkerConfig,
    task,
)
from tests.litestar.conftest import wait_until


def test_the_in_app_worker_fires_the_schedules() -> None:
    registry = TaskRegistry()
    fired: list[str] = []
    lock = threading.Lock()

    @task("lt.sched.beat", registry=registry, interval=0.2, schedule_args=["beat"])
    def beat(label: str) -> None:
        with lock:
            fired.append(label)

    config = QueueConfig(registry=registry, worker=WorkerConfig(scheduler_interval=0.05, poll_interval=0.05))
    plugin = QueuePlugin(config)
    with TestClient(app=Litestar([], plugins=[plugin])):
        assert plugin.worker is not None and plugin.worker.scheduler is not None
        wait_until(lambda: len(fired) >= 3, what="three scheduled runs")
    assert set(fired) == {"beat"}


def test_the_lifespan_refuses_a_schedule_of_an_unregistered_task() -> None:
    schedule = Schedule(name="reports.nightly", task="reports.build", cron="0 3 * * *")
    app = Litestar([], plugins=[QueuePlugin(QueueConfig(registry=TaskRegistry(), schedules=[schedule]))])
    # the app's startup fails (TestClient runs the lifespan in a task group: the error comes grouped)
    unregistered = pytest.RaisesExc(ScheduleError, match=r"'reports\.build', which is not registered")
    with pytest.RaisesGroup(unregistered, flatten_subgroups=True), TestClient(app=app):
        pass
