"""Importing an observer's library on first use, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from litestar_queues.exceptions import ExtraNotInstalledError

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ("import_extra",)


def import_extra(module: str, *, extra: str, library: str, what: str) -> ModuleType:
    """Import ``module``, which the ``extra`` of litestar-queues installs.

    Raises:
        ExtraNotInstalledError: It is not installed; the message names the ``pip install`` line.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        error = ExtraNotInstalledError(
            f'{what} needs {library}, which is not installed: pip install "litestar-queues[{extra}]"'
        )
        error.name = exc.name
        raise error from None
