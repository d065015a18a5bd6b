"""SQL backend: enqueue in the same transaction as your data (docs/sql.md).

Run workers for this module with ``litestar-queues worker sql_transactional:config``.
"""

from __future__ import annotations

import os
import tempfile

import anyio
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from litestar_queues import QueueConfig, QueueService, TaskResult, WorkerConfig, task
from litestar_queues_sql import enqueue_in_transaction

app_metadata = MetaData()
users = Table(
    "users",
    app_metadata,
    Column("id", Integer, primary_key=True),
    Column("email", Text, nullable=False),
)


@task("emails.welcome", retries=3)
async def send_welcome(email: str) -> str:
    return f"welcome sent to {email}"


# postgresql://user:password@host/db works the same way; the default is one SQLite file
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/app.db")

config = QueueConfig(
    queue_backend=DATABASE_URL,  # tables lq_tasks and lq_dead_letters are created on open
    worker=WorkerConfig(concurrency=10),
)


async def sign_up(service: QueueService, email: str, *, fail: bool = False) -> TaskResult[str]:
    engine = service.backend.engine  # type: ignore[attr-defined]  # or your application's own engine
    async with engine.begin() as conn:
        await conn.execute(insert(users).values(email=email))
        handle = await enqueue_in_transaction(service, conn, send_welcome, email, key=f"welcome:{email}")
        if fail:
            raise RuntimeError("payment declined")  # rolls back the user AND the task
    return handle


async def main() -> None:
    async with QueueService(config) as service:
        engine = service.backend.engine  # type: ignore[attr-defined]
        async with engine.begin() as conn:
            await conn.run_sync(app_metadata.create_all)
        welcome = await sign_up(service, "ada@example.com")
        try:
            await sign_up(service, "bob@example.com", fail=True)
        except RuntimeError as exc:
            print(f"sign-up failed: {exc}")
        print(f"queued: {(await service.stats()).count('pending')}")
        async with service.worker():
            await welcome.wait(timeout=30)
        stats = await service.stats()
        print(f"completed: {stats.count('completed')}, total: {stats.total}")


if __name__ == "__main__":
    anyio.run(main)
