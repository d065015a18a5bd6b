"""One record after downtime, never a burst; the key every scheduler computes (docs/schedules.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from litestar_queues.schedules import MisfirePolicy, Schedule, decide_fire, due_key

hourly = Schedule(name="sync.hourly", task="crm.sync", cron="0 * * * *", jitter=30)

stored_due = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # the 01:00 run was due...
now = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)  # ...and no scheduler ran until 03:30

catch_up = decide_fire(hourly, stored_due, now)
print(
    f"catch_up_once: fire {catch_up.due:%H:%M} (starts {catch_up.run_at:%H:%M:%S}), "
    f"missed since {catch_up.missed_since:%H:%M}, next {catch_up.next_due:%H:%M}"
)

skip = decide_fire(replace(hourly, misfire=MisfirePolicy.SKIP), stored_due, now)
print(f"skip: fire {skip.due}, missed since {skip.missed_since:%H:%M}, next {skip.next_due:%H:%M}")

if catch_up.due is not None:  # the key the store deduplicates on: the same on every scheduler
    print(due_key(hourly.name, catch_up.due))
