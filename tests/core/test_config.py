"""QueueConfig / WorkerConfig validation and backend URL resolution."""

from __future__ import annotations

from importlib.metadata import EntryPoints, entry_points

import pytest
from hypothesis import given
from hypothesis import strategies as st

import litestar_queues._loading as loading
from litestar_queues import (
    MemoryQueueBackend,
    QueueConfig,
    QueueConfigurationError,
    QueueService,
    TaskRegistry,
    WorkerConfig,
    task,
)
from litestar_queues.events import QueueEventConfig


@pytest.mark.parametrize(
    "kwargs",
    [
        {"concurrency": 0},
        {"concurrency": -1},
        {"processes": 0},
        {"lease_seconds": 0},
        {"lease_seconds": 10, "heartbeat_interval": 10},
        {"lease_seconds": 10, "reclaim_interval": 0},
        {"poll_interval": 0},
        {"shutdown_grace": -1},
        {"sync_threads": 0},
        {"queues": []},
        {"queues": [""]},
    ],
)
def test_invalid_worker_settings_fail_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(QueueConfigurationError):
        WorkerConfig(**kwargs)  # type: ignore[arg-type]


def test_worker_defaults_and_derived_intervals() -> None:
    config = WorkerConfig(lease_seconds=30)
    assert (config.concurrency, config.queues) == (10, None)
    assert config.effective_heartbeat_interval == 10
    assert config.effective_reclaim_interval == 5
    assert config.effective_worker_id.startswith("worker-")
    assert WorkerConfig(queues="a,b").queues == ["a", "b"]


@given(concurrency=st.integers(min_value=-5, max_value=50))
def test_concurrency_is_valid_exactly_when_positive(concurrency: int) -> None:
    if concurrency >= 1:
        assert WorkerConfig(concurrency=concurrency).concurrency == concurrency
    else:
        with pytest.raises(QueueConfigurationError, match="concurrency"):
            WorkerConfig(concurrency=concurrency)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"execution_backend": "cloudrun"},
        {"queue_backend": "no-scheme"},
        {"queue_backend": 42},
        {"max_payload_bytes": 0},
        {"max_reclaims": -1},
        {"worker": {"concurrency": 1}},
    ],
)
def test_invalid_queue_config_fails_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(QueueConfigurationError):
        QueueConfig(**kwargs)  # type: ignore[arg-type]


def test_unknown_execution_backend_error_names_it() -> None:
    with pytest.raises(QueueConfigurationError, match="'cloudrun'"):
        QueueConfig(execution_backend="cloudrun")


@given(retries=st.integers(min_value=-10, max_value=10))
def test_negative_retries_fail_at_decoration(retries: int) -> None:
    registry = TaskRegistry()
    decorate = task("r.check", retries=retries, registry=registry)
    if retries >= 0:
        assert decorate(lambda: None).retries == retries
    else:
        with pytest.raises(QueueConfigurationError, match="retries"):
            decorate(lambda: None)


def test_event_config_enabled_without_a_destination_is_an_error() -> None:
    with pytest.raises(QueueConfigurationError):
        QueueEventConfig(enabled=True)
    with pytest.raises(QueueConfigurationError):
        QueueEventConfig(publish_timeout=0)


@pytest.mark.anyio
async def test_memory_url_and_instance_both_work() -> None:
    by_url = QueueService(QueueConfig(queue_backend="memory://"))
    assert isinstance(by_url.backend, MemoryQueueBackend)
    instance = MemoryQueueBackend()
    assert QueueService(QueueConfig(queue_backend=instance)).backend is instance
    async with by_url:
        assert by_url.is_open
    assert not by_url.is_open


def test_unknown_scheme_error_says_no_distribution_provides_it() -> None:
    with pytest.raises(QueueConfigurationError, match=r"'nosuchdb'.*no known distribution"):
        QueueService(QueueConfig(queue_backend="nosuchdb://host/0"))


@pytest.mark.parametrize(
    ("url", "distribution"),
    [
        ("redis://localhost:6379/0", '"litestar-queues[redis]"'),
        ("rediss://localhost:6380/0", '"litestar-queues[redis]"'),
        ("valkey://localhost", '"litestar-queues[redis]"'),
        ("postgresql://u@localhost/db", '"litestar-queues[postgres]"'),
        ("postgresql+psycopg://u@localhost/db", '"litestar-queues[psycopg]"'),
        ("sqlite:///queue.db", '"litestar-queues[sql]"'),
        ("sqlite+aiosqlite:///queue.db", '"litestar-queues[sql]"'),
    ],
)
def test_scheme_whose_adapter_is_not_installed_names_the_distribution(
    monkeypatch: pytest.MonkeyPatch, url: str, distribution: str
) -> None:
    # the workspace installs every adapter: hide all but the core's own entry points
    def core_only(*, group: str) -> EntryPoints:
        return EntryPoints(ep for ep in entry_points(group=group) if ep.value.startswith("litestar_queues."))

    monkeypatch.setattr(loading, "entry_points", core_only)
    with pytest.raises(QueueConfigurationError) as caught:
        QueueService(QueueConfig(queue_backend=url))
    message = str(caught.value)
    assert f"pip install {distribution}" in message
    assert url.split("://")[0] in message
    # the memory backend is still found through the same seam
    assert isinstance(QueueService(QueueConfig(queue_backend="memory://")).backend, MemoryQueueBackend)
