"""The queues page's limit form: its fields read as a :class:`~litestar_queues.QueueLimit`, and back.

The form has four text fields, each left empty for "no cap of this kind": ``concurrency``,
``rate`` (``60``, or ``60/1m`` with the period in it, as the CLIs' ``--rate`` takes it),
``per`` (the rate's period: ``1m``, ``10s``, ``90``; empty is one second) and
``key_concurrency``. :func:`limit_from_form` reads them before anything changes and raises
:class:`~litestar_queues.exceptions.QueueLimitError` naming the field and the fix; the actions
turn it into a 400 page. Rates and periods are read by the same parser as the CLIs'.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from litestar_queues._rates import parse_period, parse_rate
from litestar_queues.exceptions import QueueLimitError
from litestar_queues.limits import MAX_LIMIT, QueueLimit, describe_period

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("LIMIT_FIELDS", "form_values", "limit_from_form")

LIMIT_FIELDS = ("concurrency", "rate", "per", "key_concurrency")
"""The form's fields, as the set_limit action takes them."""

_WHOLE = re.compile(r"^\d{1,10}$")
_LONGEST = 40


def _whole(name: str, text: str) -> int | None:
    if not text:
        return None
    value = int(text) if _WHOLE.match(text) else 0
    if not 1 <= value <= MAX_LIMIT:
        raise QueueLimitError(
            f"{name.replace('_', ' ')} must be a whole number from 1 to {MAX_LIMIT:,} "
            f"(or empty for no cap), got {text!r}"
        )
    return value


def _rate(rate: str, per: str) -> tuple[int | None, float]:
    if "/" in rate:
        if per:
            raise QueueLimitError(
                f"rate {rate!r} has its period in it already: leave per empty, or give rate as a number"
            )
        return parse_rate(rate, name="rate")
    count = _whole("rate", rate)
    if count is None:
        if per:
            raise QueueLimitError(
                "per is the period of rate: give rate too (rate 60, per 1m: 60 starts a minute)"
            )
        return None, 1.0
    return count, parse_period(per, name="per") if per else 1.0


def limit_from_form(fields: Mapping[str, str]) -> QueueLimit:
    """The limit the form's fields describe.

    Raises:
        QueueLimitError: A field is malformed or out of range, a period is given without a
            rate, or every field is empty; the message names the field and the fix.
    """
    text = {name: str(fields.get(name) or "").strip() for name in LIMIT_FIELDS}
    for name, value in text.items():
        if len(value) > _LONGEST:
            raise QueueLimitError(
                f"{name.replace('_', ' ')} is {len(value)} characters long: at most {_LONGEST}"
            )
    rate, per = _rate(text["rate"], text["per"])
    concurrency = _whole("concurrency", text["concurrency"])
    key_concurrency = _whole("key_concurrency", text["key_concurrency"])
    if concurrency is None and rate is None and key_concurrency is None:
        raise QueueLimitError(
            "a limit needs a concurrency, a rate or a key concurrency; "
            "to remove the queue's limit, use its Remove limit button"
        )
    return QueueLimit(concurrency=concurrency, rate=rate, per=per, key_concurrency=key_concurrency)


def _period_text(per: float) -> str:
    shown = describe_period(per)  # 1m, 10s; but 0.1234567s is rounded, 1234567.5s written 1.23457e+06s
    try:
        if parse_period(shown) == per:
            return shown
    except QueueLimitError:
        pass
    return repr(per)


def form_values(limit: QueueLimit | None) -> dict[str, str]:
    """The form's fields showing ``limit`` (all empty for ``None``), as :func:`limit_from_form` reads them."""
    if limit is None:
        return dict.fromkeys(LIMIT_FIELDS, "")
    return {
        "concurrency": "" if limit.concurrency is None else str(limit.concurrency),
        "rate": "" if limit.rate is None else str(limit.rate),
        "per": "" if limit.rate is None else _period_text(limit.per),
        "key_concurrency": "" if limit.key_concurrency is None else str(limit.key_concurrency),
    }
