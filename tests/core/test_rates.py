"""The rates and periods operators type (the CLIs' ``--rate``, the dashboard's limit form)."""

from __future__ import annotations

import pytest

from litestar_queues._rates import parse_period, parse_rate
from litestar_queues.exceptions import QueueLimitError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60/1m", (60, 60.0)),
        ("10/s", (10, 1.0)),
        ("5/10s", (5, 10.0)),
        (" 1000 / 1h ", (1000, 3600.0)),
        ("7/", (7, 1.0)),
    ],
)
def test_rates(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1m", 60.0), ("10s", 10.0), ("1.5s", 1.5), ("90", 90.0), ("s", 1.0), ("2d", 172800.0)],
)
def test_periods(text: str, expected: float) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "per takes a period such as 1s, 10s, 1m"),
        ("1y", "per takes a period such as"),
        ("-5s", "per takes a period such as"),
        ("0s", "per must be from 0.001 s to 100,000,000 s"),
        ("5000d", "per must be from 0.001 s"),
    ],
)
def test_bad_periods_name_the_field_and_the_form(text: str, message: str) -> None:
    with pytest.raises(QueueLimitError, match=message):
        parse_period(text, name="per")


def test_a_rate_s_messages_name_where_it_came_from() -> None:
    with pytest.raises(QueueLimitError, match=r"^rate takes N/PERIOD, e\.g\. 60/1m"):
        parse_rate("fast", name="rate")
    with pytest.raises(QueueLimitError, match=r"^--rate needs from 1 to 2,147,483,647"):
        parse_rate("0/1m")
