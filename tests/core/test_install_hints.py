"""Every missing piece is a QueueConfigurationError at configuration time that names its install line.

The workspace installs every adapter and driver, so each test hides one piece: the adapters'
entry points (the seam ``backend_from_url`` reads) or a driver module (``sys.modules[name] =
None`` makes its import fail as if it were not installed). The acceptance test
``tests/acceptance/test_wheels_core_only.py`` checks the same messages in a venv that really
lacks them.
"""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoints, entry_points

import pytest
from sqlalchemy.engine import make_url

import litestar_queues._loading as loading
from litestar_queues import QueueConfig, QueueConfigurationError, QueueService
from litestar_queues_sql._dialects import engine_from_url


@pytest.fixture
def core_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide every entry point but the core's own, as in an install of litestar-queues alone."""

    def only_core(*, group: str) -> EntryPoints:
        return EntryPoints(ep for ep in entry_points(group=group) if ep.value.startswith("litestar_queues."))

    monkeypatch.setattr(loading, "entry_points", only_core)


def _error(url: str) -> str:
    with pytest.raises(QueueConfigurationError) as caught:
        QueueService(QueueConfig(queue_backend=url))
    return str(caught.value)


@pytest.mark.parametrize(
    ("url", "install"),
    [
        ("redis://localhost:6379/0", 'pip install "litestar-queues[redis]"'),
        ("unix:///run/redis.sock", 'pip install "litestar-queues[redis]"'),
        ("sqlite:///queue.db", 'pip install "litestar-queues[sql]"'),
        ("postgresql://app@db/app", 'pip install "litestar-queues[postgres]"'),
        ("postgres://app@db/app", 'pip install "litestar-queues[postgres]"'),
        ("postgresql+psycopg://app@db/app", 'pip install "litestar-queues[psycopg]"'),
    ],
)
@pytest.mark.usefixtures("core_only")
def test_a_missing_adapter_names_the_install_line(url: str, install: str) -> None:
    message = _error(url)
    assert message.endswith(install), message
    assert repr(url.split("://")[0]) in message


def test_valkey_with_the_redis_adapter_installed_says_to_write_redis_urls() -> None:
    message = _error("valkey://localhost:6379/0")
    assert "pip install" not in message
    assert "installed 'litestar-queues-redis'" in message
    assert "write redis://host:6379/0" in message


@pytest.mark.usefixtures("core_only")
def test_valkey_without_the_redis_adapter_names_its_install_line() -> None:
    assert _error("valkey://localhost").endswith('pip install "litestar-queues[redis]"')


def test_an_unknown_scheme_lists_the_schemes_with_their_install_lines() -> None:
    message = _error("postgress://app@db/app")
    assert "did you mean 'postgres'?" in message
    for line in ("litestar-queues[sql]", "litestar-queues[postgres]", "litestar-queues[redis]"):
        assert f'pip install "{line}"' in message
    assert "memory:// (built in)" in message


def test_an_adapter_that_cannot_be_imported_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "litestar_queues_redis", None)
    message = _error("redis://localhost:6379/0")
    assert "cannot be imported" in message
    assert message.endswith('pip install "litestar-queues[redis]"')


@pytest.mark.parametrize(
    ("url", "module", "install"),
    [
        ("sqlite:///queue.db", "aiosqlite", 'pip install "litestar-queues[sql]"'),
        ("sqlite+aiosqlite:///queue.db", "aiosqlite", 'pip install "litestar-queues[sql]"'),
        ("postgresql://app@db/app", "asyncpg", 'pip install "litestar-queues[postgres]"'),
        ("postgresql+psycopg://app@db/app", "psycopg", 'pip install "litestar-queues[psycopg]"'),
    ],
)
def test_a_missing_driver_is_reported_when_the_config_is_built(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, install: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    message = _error(url)
    assert f"the {module} driver" in message
    assert message.endswith(install), message
    # an engine built from a URL directly maps SQLAlchemy's import error the same way
    driver = {
        "aiosqlite": "sqlite+aiosqlite",
        "asyncpg": "postgresql+asyncpg",
        "psycopg": "postgresql+psycopg",
    }
    with pytest.raises(QueueConfigurationError, match=r"litestar-queues\["):
        engine_from_url(make_url(url).set(drivername=driver[module]))
