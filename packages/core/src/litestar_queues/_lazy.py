"""Lazy exports of Litestar-only names from the core's public modules."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

ADAPTER_DISTRIBUTION = "litestar-queues-litestar"


def adapter_exports(module: str, names: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """Build the module ``__getattr__`` that resolves ``names`` (``{name: adapter module}``) lazily.

    Type checkers see the real imports under ``TYPE_CHECKING``; at run time the first access
    imports the adapter module and caches the value in ``namespace`` (the module's globals).
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            return load_adapter_attribute(names[name], name, namespace)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


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
