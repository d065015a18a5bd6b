"""Migrating from 0.1: arguments arrive as JSON, ``_job_id`` is a UUID (docs/migrating-from-0.1.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from litestar_queues import QueueConfig, QueueService, task

if TYPE_CHECKING:
    from uuid import UUID

DEPOTS = {(52.52, 13.40): "Berlin", (48.14, 11.58): "Munich"}


@task("routes.depot")
async def depot_name(location: tuple[float, float]) -> str:
    # 0.1.0 (memory backend): DEPOTS[location]; JSON has no tuples, the location arrives as a list
    return DEPOTS[tuple(location)]


@task("exports.build")
async def build_export(owner: str, _job_id: UUID) -> str:
    # 0.1.0 passed str(record.id); now it is the UUID itself
    job_id = str(_job_id)
    return f"exports/{owner}/{job_id[:8]}.csv"


async def main() -> None:
    async with QueueService(QueueConfig()) as service, service.worker():
        depot = await (await service.enqueue(depot_name, (52.52, 13.40))).wait(timeout=30)
        export = await (await service.enqueue(build_export, "alice")).wait(timeout=30)
    print("depot:", depot.result)
    print("export:", export.result)
    assert (depot.result, export.result) == ("Berlin", f"exports/alice/{str(export.id)[:8]}.csv")


if __name__ == "__main__":
    anyio.run(main)
