"""The Lua scripts (package data under ``lua/``), each prefixed with ``lua/common.lua``.

Some share more code, placed between ``common.lua`` and the script (``_PRELUDES``): ``query`` and
``delete`` share ``lua/select.lua``, so ``delete`` removes exactly what ``query`` lists;
``enqueue`` and ``schedule`` share ``lua/store.lua``, so a schedule's fire is stored by the one
implementation of the enqueue rules; the schedule scripts share ``lua/schedules.lua``; ``claim``
and ``claim_task`` share ``lua/take.lua`` and ``lua/limits.lua`` (each function in ``common.lua`` is
created on every call of every script, so code only some scripts use is kept out of it).
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster
    from redis.commands.core import AsyncScript

SCRIPT_NAMES = (
    "backfill",
    "bury",
    "cancel",
    "claim",
    "claim_task",
    "counts",
    "delete",
    "enqueue",
    "extend",
    "finish",
    "finished",
    "forget",
    "get",
    "limit",
    "pause",
    "query",
    "reclaim",
    "requeue",
    "schedule",
    "schedule_delete",
    "schedule_note",
    "schedule_pause",
    "schedule_states",
    "turn",
    "worker",
    "workers",
)
_PRELUDES = {
    "claim": ("take", "limits"),
    "claim_task": ("take", "limits"),
    "query": ("select",),
    "delete": ("select",),
    "enqueue": ("store",),
    "schedule": ("store", "schedules"),
    "schedule_delete": ("schedules",),
    "schedule_note": ("schedules",),
    "schedule_pause": ("schedules",),
    "schedule_states": ("schedules",),
}
"""Shared code a script needs besides ``common.lua``, placed between it and the script."""


def _source(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def load_sources() -> dict[str, str]:
    """Return the full source of every script (the common prelude, then the script)."""
    common = _source("common")
    return {
        name: "\n".join([common, *(_source(part) for part in _PRELUDES.get(name, ())), _source(name)])
        for name in SCRIPT_NAMES
    }


class Scripts:
    """The scripts registered on one client; each runs with EVALSHA, loading itself on NOSCRIPT."""

    __slots__ = SCRIPT_NAMES

    backfill: AsyncScript
    bury: AsyncScript
    cancel: AsyncScript
    claim: AsyncScript
    claim_task: AsyncScript
    counts: AsyncScript
    delete: AsyncScript
    enqueue: AsyncScript
    extend: AsyncScript
    finish: AsyncScript
    finished: AsyncScript
    forget: AsyncScript
    get: AsyncScript
    limit: AsyncScript
    pause: AsyncScript
    query: AsyncScript
    reclaim: AsyncScript
    requeue: AsyncScript
    schedule: AsyncScript
    schedule_delete: AsyncScript
    schedule_note: AsyncScript
    schedule_pause: AsyncScript
    schedule_states: AsyncScript
    turn: AsyncScript
    worker: AsyncScript
    workers: AsyncScript

    def __init__(self, client: Redis | RedisCluster) -> None:
        for name, source in load_sources().items():
            setattr(self, name, client.register_script(source))
