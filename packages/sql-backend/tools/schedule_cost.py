"""Time ``advance_schedule`` (create, skip, fire, a fire whose key is held, a refused fire) and races.

Usage::

    uv run python packages/sql-backend/tools/schedule_cost.py --local-postgres [--calls 500]
    uv run python packages/sql-backend/tools/schedule_cost.py sqlite:///$(mktemp -d)/queue.db

Each kind of call is made ``--calls`` times in a row on one backend (p50 and p95 in ms); an
``enqueue`` of one record is timed beside them for reference. Then 20 callers on two backend
objects (two engines) race on one due time, 20 rounds (p50 and slowest round). On PostgreSQL a
fire is also timed as one autocommit statement that does the compare-and-set and the insert
with CTEs (``UPDATE ... RETURNING`` feeding ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``):
the backend does not use that form (see docs/sql.md, "Schedules", for why), it is timed here to
show what it would save.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
from _tool import database_parser, run_on_database, time_calls  # next to this tool
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert

from litestar_queues.models import TaskRecord
from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._notify import WORK
from litestar_queues_sql._records import record_to_row

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T0 = datetime(2030, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=1)


def fire(name: str, due: datetime, *, key: str | None = None) -> TaskRecord:
    """The record of a fire at ``due`` (its due-time key unless ``key`` is given)."""
    return TaskRecord(
        id=uuid.uuid4(),
        task_name=f"schedule.{name}",
        key=key or f"schedule:{name}:{due.isoformat()}",
        created_at=T0,
        run_at=due,
        kwargs={"report": "daily"},
    )


async def timed(calls: int, call: Callable[[int], Awaitable[Any]]) -> tuple[float, float]:
    """p50 and p95 of ``calls`` calls, in milliseconds."""
    times = sorted(await time_calls(calls, call))
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def one_statement_fire(backend: SQLQueueBackend) -> Any:
    """PostgreSQL: the compare-and-set and the record's insert as one statement (not used)."""
    schedules, tasks = backend.tables.schedules, backend.tables.tasks
    cas = (
        update(schedules)
        .where(schedules.c.name == bindparam("p_name"), schedules.c.next_fire == bindparam("p_expected"))
        .values(
            next_fire=bindparam("p_next"),
            updated_at=bindparam("p_now"),
            last_fire=bindparam("p_expected"),
            last_task_id=bindparam("p_task"),
        )
        .returning(schedules.c.name)
        .cte("cas")
    )
    columns = [c for c in tasks.c if c.name not in ("seq", "history")]
    values = select(*(bindparam(f"r_{c.name}", type_=c.type) for c in columns)).select_from(cas)
    inserted = (
        insert(tasks)
        .from_select([c.name for c in columns], values)
        .on_conflict_do_nothing()
        .returning(tasks.c.id, func.pg_notify(backend.tables.channel, WORK))
        .cte("inserted")
    )
    return select(
        select(func.count()).select_from(cas).scalar_subquery().label("applied"),
        select(func.count()).select_from(inserted).scalar_subquery().label("inserted"),
    )


async def single_calls(backend: SQLQueueBackend, calls: int) -> None:
    """Each kind of call ``calls`` times on one schedule."""
    rows: list[tuple[str, float, float]] = []
    due = T0

    async def create(n: int) -> None:
        await backend.advance_schedule(f"c{n}", expected=None, next_fire=T0, record=None, now=T0)

    async def skip(n: int) -> None:
        nonlocal due
        state = await backend.advance_schedule("s", expected=due, next_fire=due + STEP, record=None, now=T0)
        assert state is not None
        due += STEP

    async def fire_free(n: int) -> None:
        nonlocal due
        item = fire("f", due)
        state = await backend.advance_schedule("f", expected=due, next_fire=due + STEP, record=item, now=T0)
        assert state is not None and state.last_task_id == item.id
        due += STEP

    (held,) = await backend.enqueue([fire("h", T0, key="held")])

    async def fire_held(n: int) -> None:
        nonlocal due
        item = fire("h", due, key="held")
        state = await backend.advance_schedule("h", expected=due, next_fire=due + STEP, record=item, now=T0)
        assert state is not None and state.last_task_id == held.record.id
        due += STEP

    async def refused(n: int) -> None:
        item = fire("f", T0)
        assert await backend.advance_schedule("f", expected=T0, next_fire=T0, record=item, now=T0) is None

    async def enqueue(n: int) -> None:
        await backend.enqueue([fire("e", T0 + n * STEP)])

    rows.append(("create (expected=None)", *await timed(calls, create)))
    for label, name, call in (
        ("skip (no record)", "s", skip),
        ("fire", "f", fire_free),
        ("fire, key held", "h", fire_held),
    ):
        due = T0
        await backend.advance_schedule(name, expected=None, next_fire=due, record=None, now=T0)
        rows.append((label, *await timed(calls, call)))
    rows.append(("refused fire (stale)", *await timed(calls, refused)))
    rows.append(("enqueue of 1 (reference)", *await timed(calls, enqueue)))
    if backend.dialect == "postgresql":
        stmt = one_statement_fire(backend)
        await backend.advance_schedule("o", expected=None, next_fire=T0, record=None, now=T0)
        due = T0

        async def one_statement(n: int) -> None:
            nonlocal due
            item = fire("o", due)
            params = {f"r_{k}": v for k, v in record_to_row(item, history=False).items()}
            params.update(p_name="o", p_expected=due, p_next=due + STEP, p_now=T0, p_task=item.id)
            async with backend._statement("one statement fire") as conn:
                applied, inserted = (await conn.execute(stmt, params)).one()
            assert (applied, inserted) == (1, 1)
            due += STEP

        rows.append(("fire as one CTE statement", *await timed(calls, one_statement)))
    print(f"{'call':<28} {'p50 ms':>8} {'p95 ms':>8}")
    for name, p50, p95 in rows:
        print(f"{name:<28} {p50:>8.2f} {p95:>8.2f}")


async def races(url: str, rounds: int = 20, callers: int = 20) -> None:
    """``callers`` fires of one due time at once on two engines, ``rounds`` times."""
    backends = [SQLQueueBackend(url), SQLQueueBackend(url)]
    for backend in backends:
        await backend.open()
    try:
        await backends[0].advance_schedule("r", expected=None, next_fire=T0, record=None, now=T0)
        times = []
        due = T0

        async def advance(n: int, at: datetime, won: list[int]) -> None:
            state = await backends[n % 2].advance_schedule(
                "r", expected=at, next_fire=at + STEP, record=fire("r", at), now=T0
            )
            if state is not None:
                won.append(n)

        for _ in range(rounds):
            won: list[int] = []

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for n in range(callers):
                    tg.start_soon(advance, n, due, won)
            times.append((time.perf_counter() - started) * 1000)
            assert len(won) == 1, won
            due += STEP
        p50, slowest = statistics.median(times), max(times)
        print(f"race of {callers} on 2 engines: p50 {p50:.2f} ms, slowest {slowest:.2f} ms")
    finally:
        for backend in backends:
            await backend.close()


async def run(url: str, calls: int) -> None:
    """Time the single calls, then the races."""
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        print(f"-- {backend.dialect}: {calls} calls of each")
        await single_calls(backend, calls)
    finally:
        await backend.close()
    await races(url)


def main() -> None:
    """Parse the command line and run."""
    parser = database_parser()
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    run_on_database(parser, args, run, args.calls)


if __name__ == "__main__":
    main()
