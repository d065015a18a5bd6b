"""Following Litestar's OpenTelemetryPlugin: its tracer provider becomes the trace observer's."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from litestar_queues.observability.otel import OpenTelemetryObserver

if TYPE_CHECKING:
    from litestar.config.app import AppConfig

    from litestar_queues import QueueConfig

__all__ = ("follow_opentelemetry",)


def follow_opentelemetry(config: QueueConfig, app_config: AppConfig) -> None:
    """Hand the tracer provider of the app's ``OpenTelemetryPlugin`` to each trace observer.

    Only to observers built without a provider of their own; nothing happens without such an
    observer or without the plugin (whose module needs OpenTelemetry's ASGI instrumentation).
    """
    observers = [o for o in config.observers if isinstance(o, OpenTelemetryObserver)]
    if not observers:
        return
    try:
        module: Any = importlib.import_module("litestar.plugins.opentelemetry")
    except ImportError:
        return
    for plugin in app_config.plugins:
        if isinstance(plugin, module.OpenTelemetryPlugin):
            for observer in observers:
                observer.follow(plugin.config.tracer_provider)
