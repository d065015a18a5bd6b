"""Lazy exports of Litestar-only names from the core's public modules."""

from __future__ import annotations

import importlib
from typing import Any

ADAPTER_DISTRIBUTION = "litestar-queues-litestar"


def load_adapter_attribute(module: str, name: str, namespace: dict[str, Any]) -> Any:
    """Import ``name`` from the Litestar adapter module ``module`` and cache it in ``namespace``.

    Raises:
        ImportError: The Litestar adapter is not installed; the message names the distribution.
    """
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] in ("litestar_queues_litestar", "litestar"):
            raise ImportError(
                f"{name} needs the Litestar adapter: install {ADAPTER_DISTRIBUTION!r} "
                f"(pip install {ADAPTER_DISTRIBUTION}, or litestar-queues[litestar])",
                name=exc.name,
            ) from exc
        raise
    namespace[name] = value
    return value
