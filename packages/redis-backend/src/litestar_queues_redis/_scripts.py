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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from redis.asyncio import Redis, RedisCluster
    from redis.asyncio.client import Pipeline
    from redis.commands.core import AsyncScript

    from litestar_queues_redis._direct import DirectLine

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


class Script:
    """One script: EVALSHA on the backend's direct line when it has one, else through redis-py.

    Either way redis-py's script object loads it when the server answers ``NOSCRIPT``.
    """

    __slots__ = ("_line", "_script")

    def __init__(self, script: AsyncScript, line: DirectLine | None) -> None:
        self._script = script
        self._line = line

    async def __call__(
        self, *, keys: Sequence[str], args: Sequence[Any], client: Pipeline | None = None
    ) -> Any:
        """Run the script on ``keys`` with ``args`` (queued on ``client`` when it is a pipeline)."""
        if client is not None or self._line is None:
            return await self._script(keys=keys, args=args, client=client)
        script = self._script

        def regular() -> Any:
            return script(keys=keys, args=args)

        return await self._line.call(["EVALSHA", script.sha, str(len(keys)), *keys, *args], regular)


class Scripts:
    """The scripts registered on one client; each runs with EVALSHA, loading itself on NOSCRIPT."""

    __slots__ = SCRIPT_NAMES

    backfill: Script
    bury: Script
    cancel: Script
    claim: Script
    claim_task: Script
    counts: Script
    delete: Script
    enqueue: Script
    extend: Script
    finish: Script
    finished: Script
    forget: Script
    get: Script
    limit: Script
    pause: Script
    query: Script
    reclaim: Script
    requeue: Script
    schedule: Script
    schedule_delete: Script
    schedule_note: Script
    schedule_pause: Script
    schedule_states: Script
    turn: Script
    worker: Script
    workers: Script

    def __init__(self, client: Redis | RedisCluster, line: DirectLine | None = None) -> None:
        for name, source in load_sources().items():
            setattr(self, name, Script(client.register_script(source), line))
