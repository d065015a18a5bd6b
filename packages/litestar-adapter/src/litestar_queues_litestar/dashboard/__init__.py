"""The web dashboard of litestar-queues: queues, tasks, schedules and their actions, live.

Mount it with ``QueuePlugin(config, dashboard=DashboardConfig(path="/queues", guards=[...]))``,
or serve it without a Litestar app of your own with ``litestar-queues dashboard QUEUE_URL``.
It needs the ``dashboard`` extra (Jinja2): ``pip install "litestar-queues-litestar[dashboard]"``.
"""

from __future__ import annotations

from litestar_queues_litestar.dashboard.access import BasicAuthGuard, loopback_guard
from litestar_queues_litestar.dashboard.config import DashboardConfig
from litestar_queues_litestar.dashboard.redaction import (
    DEFAULT_SECRET_KEYS,
    KeyRedactor,
    Redactor,
    default_redact,
    redact_url,
)

__all__ = (
    "DEFAULT_SECRET_KEYS",
    "BasicAuthGuard",
    "DashboardConfig",
    "KeyRedactor",
    "Redactor",
    "default_redact",
    "loopback_guard",
    "redact_url",
)
