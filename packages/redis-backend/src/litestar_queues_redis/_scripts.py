"""The Lua scripts (package data under ``lua/``), each prefixed with ``lua/common.lua``.

``query`` and ``delete`` are prefixed with ``lua/select.lua`` too: both choose their records with
the same selection, so ``delete`` removes exactly what ``query`` lists.
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
    "get",
    "pause",
    "query",
    "reclaim",
    "requeue",
    "turn",
)
_PRELUDES = {"query": ("select",), "delete": ("select",)}
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
    get: AsyncScript
    pause: AsyncScript
    query: AsyncScript
    reclaim: AsyncScript
    requeue: AsyncScript
    turn: AsyncScript

    def __init__(self, client: Redis | RedisCluster) -> None:
        for name, source in load_sources().items():
            setattr(self, name, client.register_script(source))
