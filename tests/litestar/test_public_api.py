"""The adapter's public modules: explicit tuple ``__all__``, and the core's lazy names resolve to them."""

import importlib
import pkgutil

import pytest

import litestar_queues
import litestar_queues.events
import litestar_queues_litestar

PUBLIC = sorted(
    info.name
    for info in pkgutil.walk_packages(litestar_queues_litestar.__path__, "litestar_queues_litestar.")
    if not info.name.rsplit(".", 1)[1].startswith("_")
)


def test_public_modules() -> None:
    assert PUBLIC == [
        "litestar_queues_litestar.background",
        "litestar_queues_litestar.channels_sink",
        "litestar_queues_litestar.cli",
        "litestar_queues_litestar.dashboard",
        "litestar_queues_litestar.dashboard.access",
        "litestar_queues_litestar.dashboard.actions",
        "litestar_queues_litestar.dashboard.config",
        "litestar_queues_litestar.dashboard.filters",
        "litestar_queues_litestar.dashboard.fragments",
        "litestar_queues_litestar.dashboard.limit_form",
        "litestar_queues_litestar.dashboard.mount",
        "litestar_queues_litestar.dashboard.overview",
        "litestar_queues_litestar.dashboard.progress",
        "litestar_queues_litestar.dashboard.redaction",
        "litestar_queues_litestar.dashboard.router",
        "litestar_queues_litestar.dashboard.standalone",
        "litestar_queues_litestar.dashboard.templates",
        "litestar_queues_litestar.dashboard.views",
        "litestar_queues_litestar.plugin",
        "litestar_queues_litestar.streaming",
    ]


@pytest.mark.parametrize("name", ["litestar_queues_litestar", *PUBLIC])
def test_explicit_all(name: str) -> None:
    module = importlib.import_module(name)
    assert isinstance(module.__all__, tuple)
    for attr in module.__all__:
        assert getattr(module, attr).__doc__, f"{name}.{attr} has no docstring"


@pytest.mark.parametrize(
    ("core", "name", "adapter"),
    [
        (litestar_queues, "QueuePlugin", "litestar_queues_litestar.plugin"),
        (litestar_queues, "QueuedBackgroundTask", "litestar_queues_litestar.background"),
        (litestar_queues.events, "ChannelsQueueEventSink", "litestar_queues_litestar.channels_sink"),
        (litestar_queues.events, "stream_queue_events", "litestar_queues_litestar.streaming"),
    ],
)
def test_core_lazy_exports(core: object, name: str, adapter: str) -> None:
    assert getattr(core, name) is getattr(importlib.import_module(adapter), name)


def test_cli_entry_point_is_declared() -> None:
    from importlib.metadata import entry_points

    from litestar_queues_litestar.cli import queues_group

    (entry,) = [ep for ep in entry_points(group="litestar.commands") if ep.name == "queues"]
    assert entry.load() is queues_group
