"""Rendering the dashboard's HTML: a Jinja2 environment of its own, autoescaped, loaded from the package.

The user's app configures no template engine for it. Jinja2 comes with the ``dashboard`` extra
(``pip install "litestar-queues-litestar[dashboard]"``); without it, :func:`load_templates`
raises an error that names the extra.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar_queues.exceptions import ExtraNotInstalledError

__all__ = ("Templates", "ago", "duration", "load_templates", "when")

_INSTALL = (
    'the queue dashboard renders its pages with Jinja2: pip install "litestar-queues-litestar[dashboard]" '
    '(or "litestar-queues[dashboard]")'
)


_UNITS = ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s"))


def when(value: datetime | None) -> str:
    """An aware time as ``2024-05-01 12:30:05 UTC`` (``-`` for ``None``)."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(value: timedelta | float | None) -> str:
    """A duration in its two largest units: ``2h 5m``, ``3m 12s``, ``4.2s``, ``-`` for ``None``."""
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    negative, seconds = seconds < 0, abs(seconds)
    if seconds < 10:
        text = f"{seconds:.1f}s"
    elif seconds < 60:
        text = f"{int(seconds)}s"
    else:
        size, name, small, small_name = next(unit for unit in _UNITS if seconds >= unit[0])
        rest = int(seconds % size // small)
        text = f"{int(seconds // size)}{name}" + (f" {rest}{small_name}" if rest else "")
    return f"-{text}" if negative else text


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago (``3m 12s ago``) or ahead (``in 5s``) an aware time is."""
    if value is None:
        return "-"
    delta = (now or datetime.now(UTC)) - value
    if delta < timedelta(0):
        return f"in {duration(-delta)}"
    return f"{duration(delta)} ago"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


class Templates:
    """The dashboard's templates; :meth:`render` returns the HTML of one."""

    __slots__ = ("_env",)

    def __init__(self, env: Any) -> None:
        self._env = env

    def render(self, name: str, **context: Any) -> str:
        """Render the template ``name`` with ``context``."""
        return str(self._env.get_template(name).render(**context))


def load_templates(globals: dict[str, Any] | None = None) -> Templates:
    """Build the Jinja2 environment of the dashboard's templates (autoescaped HTML) with ``globals``.

    Raises:
        ExtraNotInstalledError: Jinja2 is not installed; the message names the extra.
    """
    try:
        jinja2 = importlib.import_module("jinja2")
    except ModuleNotFoundError as exc:
        raise ExtraNotInstalledError(_INSTALL) from exc
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("litestar_queues_litestar.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, duration=duration, ago=ago, pretty=_pretty)
    env.globals.update(globals or {})
    return Templates(env)
