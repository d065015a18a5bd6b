"""What a daily 02:30 job and an hourly job do when the clocks change (docs/schedules.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from litestar_queues.schedules import Schedule, next_fire

berlin = ZoneInfo("Europe/Berlin")
daily = Schedule(name="daily", task="t", cron="30 2 * * *", timezone="Europe/Berlin")
hourly = Schedule(name="hourly", task="t", cron="0 * * * *", timezone="Europe/Berlin")


def fires(schedule: Schedule, after: datetime, count: int) -> list[str]:
    times = []
    for _ in range(count):
        after = next_fire(schedule, after)
        times.append(f"{after.astimezone(berlin):%d %b %H:%M %Z}")
    return times


# 29 March: 02:00 CET jumps to 03:00 CEST; 25 October: 03:00 CEST falls back to 02:00 CET
print("daily, spring:", fires(daily, datetime(2026, 3, 28, tzinfo=UTC), 3))
print("daily, autumn:", fires(daily, datetime(2026, 10, 24, tzinfo=UTC), 3))
print("hourly, autumn:", fires(hourly, datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 4))
