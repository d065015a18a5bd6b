"""Import hygiene: no adapter dependency on import, lazy Litestar names, explicit __all__ everywhere."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import textwrap

import pytest

import litestar_queues

FORBIDDEN = (
    "litestar",
    "redis",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "psycopg",
    "litestar_queues_litestar",
    "litestar_queues_redis",
    "litestar_queues_sql",
    "prometheus_client",
    "opentelemetry",
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_the_core_imports_no_adapter_or_driver() -> None:
    proc = _run(
        f"""
        import importlib, pkgutil, sys
        import litestar_queues, litestar_queues.events
        from litestar_queues import QueueConfig, QueueService, task
        from litestar_queues.events import QueueEvent, QueueEventConfig, publish_task_log
        # every module of the core but the contract kit (which is for test suites)
        for info in pkgutil.walk_packages(litestar_queues.__path__, "litestar_queues."):
            if not info.name.startswith("litestar_queues.testing"):
                importlib.import_module(info.name)
        forbidden = {FORBIDDEN!r}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
        print(",".join(loaded))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


_BLOCK_ADAPTER = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("litestar_queues_litestar", "litestar"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
"""


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("litestar_queues", "QueuePlugin"),
        ("litestar_queues", "QueuedBackgroundTask"),
        ("litestar_queues.events", "stream_queue_events"),
        ("litestar_queues.events", "ChannelsQueueEventSink"),
    ],
)
def test_lazy_litestar_names_raise_an_import_error_naming_the_adapter(module: str, name: str) -> None:
    proc = _run(
        _BLOCK_ADAPTER
        + f"""
import {module} as target
try:
    getattr(target, {name!r})
except ImportError as exc:
    print("IMPORT-ERROR", exc)
try:
    exec("from {module} import {name}")
except ImportError as exc:
    print("FROM-IMPORT-ERROR", exc)
"""
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("IMPORT-ERROR") and lines[1].startswith("FROM-IMPORT-ERROR")
    assert all("litestar-queues-litestar" in line and name in line for line in lines)


def test_channels_backend_without_the_adapter_raises_the_same_hint() -> None:
    proc = _run(
        _BLOCK_ADAPTER
        + """
from litestar_queues import QueueConfig, QueueService
from litestar_queues.events import QueueEventConfig
try:
    QueueService(QueueConfig(event_config=QueueEventConfig(enabled=True, channels_backend=object())))
except ImportError as exc:
    print("IMPORT-ERROR", exc)
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("IMPORT-ERROR") and "litestar-queues-litestar" in proc.stdout


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = litestar_queues.NoSuchName  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        exec("from litestar_queues.events import NoSuchName")


def _public_modules() -> list[str]:
    names = ["litestar_queues"]
    for info in pkgutil.walk_packages(litestar_queues.__path__, "litestar_queues."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def test_the_walk_finds_the_public_modules() -> None:
    modules = _public_modules()
    for expected in ("litestar_queues.events", "litestar_queues.events.envelope", "litestar_queues.ports"):
        assert expected in modules
    assert not any(m.rsplit(".", 1)[-1].startswith("_") for m in modules)


@pytest.mark.parametrize("module_name", _public_modules())
def test_each_public_module_has_an_explicit_tuple_all_of_existing_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = module.__dict__.get("__all__")
    assert isinstance(exported, tuple), f"{module_name}.__all__ must be a tuple"
    assert len(set(exported)) == len(exported), f"{module_name}.__all__ has duplicates"
    lazy = module.__dict__.get("_LAZY", {})
    for name in exported:
        assert name in module.__dict__ or name in lazy, f"{module_name}.__all__ names missing {name!r}"
        if name not in lazy:
            assert not name.startswith("_")
            getattr(module, name)


def test_lazy_names_resolve_from_the_installed_adapter() -> None:
    import litestar_queues.events as events

    plugin = litestar_queues.QueuePlugin
    assert plugin.__module__.startswith("litestar_queues_litestar")
    assert litestar_queues.QueuedBackgroundTask.__module__.startswith("litestar_queues_litestar")
    assert events.ChannelsQueueEventSink.__module__.startswith("litestar_queues_litestar")
    assert events.stream_queue_events.__module__.startswith("litestar_queues_litestar")
