"""A schedule is checked at construction: every mistake is a typed error that says the fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from litestar_queues.exceptions import (
    CronExpressionError,
    CronNotInstalledError,
    QueueConfigurationError,
    ScheduleError,
)
from litestar_queues.schedules import EPOCH, MisfirePolicy, Schedule, next_fire


def _error(**fields: Any) -> ScheduleError:
    values: dict[str, Any] = {"name": "reports.nightly", "task": "reports.build", "cron": "0 3 * * *"}
    values.update(fields)
    with pytest.raises(ScheduleError) as caught:
        Schedule(**values)
    return caught.value


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": ""}, "schedule name '' is invalid: use 1 to 200 letters, digits or _ . - /"),
        ({"name": "nightly report"}, "schedule name 'nightly report' is invalid"),
        ({"name": "a:b"}, "schedule name 'a:b' is invalid"),
        ({"name": "x" * 201}, "is invalid: use 1 to 200"),
        ({"name": 7}, "schedule name 7 is invalid"),
        ({"task": ""}, "task must be the name of a registered task, got ''"),
        ({"cron": None}, "has neither of cron and interval: give exactly one"),
        ({"interval": 60}, "has both of cron and interval: give exactly one"),
        ({"timezone": "Europe/Berlinn"}, "unknown timezone 'Europe/Berlinn': use an IANA name such as"),
        ({"timezone": "../etc/passwd"}, "unknown timezone '../etc/passwd'"),
        ({"timezone": ""}, "unknown timezone ''"),
        ({"jitter": -1}, "jitter must be >= 0 seconds (0 for none), got -1"),
        ({"jitter": float("nan")}, "jitter must be >= 0 seconds"),
        ({"jitter": "5"}, "jitter must be a number of seconds, got '5'"),
        ({"queue": ""}, "queue must be a non-empty string or None"),
        ({"priority": 1.5}, "priority must be an integer or None, got 1.5"),
        ({"priority": True}, "priority must be an integer or None, got True"),
        ({"enabled": "no"}, "enabled must be True or False"),
        ({"misfire": "burst"}, "misfire must be one of 'skip', 'catch_up_once', got 'burst'"),
        ({"args": "abc"}, "args must be a list or tuple of arguments"),
        ({"kwargs": {1: "x"}}, "kwargs must be a mapping with string keys"),
        ({"args": (object(),)}, "the arguments of schedule 'reports.nightly' cannot be serialised to JSON"),
        ({"kwargs": {"ratio": float("inf")}}, "NaN or infinity"),
        ({"anchor": EPOCH}, "anchor applies to interval schedules only; remove it"),
        ({"cron": 3}, "cron must be a string such as '0 3 * * *', got 3"),
    ],
)
def test_each_invalid_field_names_itself_and_the_fix(fields: dict[str, Any], expected: str) -> None:
    error = _error(**fields)
    assert expected in str(error)
    assert isinstance(error, QueueConfigurationError) and isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (0, "interval must be > 0, got 0"),
        (-5, "interval must be > 0, got -5"),
        (timedelta(0), "interval must be > 0, got datetime.timedelta(0)"),
        (timedelta(seconds=-1), "interval must be > 0"),
        (1e-9, "interval must be > 0"),
        (float("nan"), "interval must be a finite number of seconds"),
        (float("inf"), "interval must be a finite number of seconds"),
        (True, "interval must be seconds or a timedelta, got True"),
        ("60", "interval must be seconds or a timedelta, got '60'"),
    ],
)
def test_an_interval_must_be_a_positive_period(interval: object, expected: str) -> None:
    assert expected in str(_error(cron=None, interval=interval))


def test_an_anchor_must_be_aware() -> None:
    message = str(_error(cron=None, interval=60, anchor=datetime(2026, 1, 1)))
    assert "anchor must be a timezone-aware datetime" in message


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("61 * * * *", "cron expression '61 * * * *' is invalid (Bad minute); fields are minute 0-59"),
        ("0 24 * * *", "is invalid (Bad hour)"),
        ("0 0 32 * *", "is invalid (Bad day-of-month)"),
        ("0 0 30 2 *", "is invalid (Bad day-of-month)"),
        ("0 0 * 13 *", "is invalid (Bad month)"),
        ("0 0 * * MOON", "is invalid (Bad day-of-week)"),
        ("every day", "has 2 fields; write five (minute hour day-of-month month day-of-week)"),
        ("0 0 3 * * *", "has 6 fields; write five"),
        ("0 3 * * * * *", "has 7 fields"),
        ("", "has 0 fields"),
        ("* * */20 * 1L", "matches no date in 50 years"),
    ],
)
def test_a_bad_cron_expression_says_what_is_wrong(cron: str, expected: str) -> None:
    error = _error(cron=cron)
    assert isinstance(error, CronExpressionError)
    assert "schedule 'reports.nightly'" in str(error)
    assert expected in str(error)


@pytest.mark.parametrize(
    "cron",
    ["0 0 L * *", "0 0 LW * *", "0 9 * * 5L", "0 9 * * MON#2", "*/10 9-17 * JAN-MAR mon-fri", "0 0 1,15 * 1"],
)
def test_the_parser_extensions_are_accepted(cron: str) -> None:
    schedule = Schedule(name="s", task="t", cron=cron)
    assert next_fire(schedule, datetime(2026, 1, 1, tzinfo=UTC)) > datetime(2026, 1, 1, tzinfo=UTC)


def test_a_valid_schedule_keeps_its_values_and_normalises_them() -> None:
    schedule = Schedule(
        name="sync/orders-eu_1.v2",
        task="orders.sync",
        args=["eu"],
        kwargs={"full": False},
        interval=90,
        timezone="Europe/Berlin",
        jitter=2.5,
        queue="sync",
        priority=-3,
        misfire="skip",  # type: ignore[arg-type]
    )
    assert schedule.args == ("eu",)
    assert schedule.kwargs == {"full": False}
    assert schedule.interval == timedelta(seconds=90) == schedule.period
    assert schedule.misfire is MisfirePolicy.SKIP
    assert schedule == Schedule(
        name="sync/orders-eu_1.v2",
        task="orders.sync",
        args=("eu",),
        kwargs={"full": False},
        interval=timedelta(seconds=90),
        timezone="Europe/Berlin",
        jitter=2.5,
        queue="sync",
        priority=-3,
        misfire=MisfirePolicy.SKIP,
    )
    assert str(schedule.zone) == "Europe/Berlin"


def test_the_defaults_catch_up_once_in_utc_without_jitter() -> None:
    schedule = Schedule(name="nightly", task="reports.build", cron="0 3 * * *")
    assert schedule.misfire is MisfirePolicy.CATCH_UP_ONCE
    assert schedule.zone is UTC
    assert (schedule.jitter, schedule.enabled, schedule.queue, schedule.priority) == (0.0, True, None, None)
    assert schedule.period is None


def test_a_schedule_is_frozen_and_hashable_whatever_its_arguments() -> None:
    def make(**fields: Any) -> Schedule:
        return Schedule(name="nightly", task="reports.build", cron="0 3 * * *", **fields)

    schedule = make(args=[[1]], kwargs={"a": {}})
    with pytest.raises(AttributeError):
        schedule.cron = "0 4 * * *"  # type: ignore[misc]
    assert len({schedule, make(args=[[1]], kwargs={"a": {}})}) == 1
    assert len({schedule, make()}) == 2


def test_a_cron_schedule_without_the_parser_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cronsim", None)
    with pytest.raises(CronNotInstalledError) as caught:
        Schedule(name="nightly", task="reports.build", cron="0 3 * * *")
    assert str(caught.value).endswith('pip install "litestar-queues[cron]"')
    assert isinstance(caught.value, ScheduleError)


def test_an_interval_schedule_needs_no_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cronsim", None)
    schedule = Schedule(name="poll", task="feeds.poll", interval=timedelta(minutes=5))
    after = datetime(2026, 1, 1, 0, 7, tzinfo=UTC)
    assert next_fire(schedule, after) == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)


def test_importing_schedules_does_not_import_the_parser() -> None:
    code = """
        import sys
        import litestar_queues.schedules
        from litestar_queues.schedules import Schedule
        Schedule(name="poll", task="feeds.poll", interval=60)
        print("cronsim" in sys.modules)
        Schedule(name="nightly", task="reports.build", cron="0 3 * * *")
        print("cronsim" in sys.modules)
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]
