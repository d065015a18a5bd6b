"""At-most-once delivery per ``eventKey`` (or ``id``) within one connection."""

from __future__ import annotations

from collections import OrderedDict

import msgspec

MAX_REMEMBERED_KEYS = 100_000
"""Dedup keys one connection remembers; the oldest are forgotten beyond this."""


class _Keys(msgspec.Struct):
    id: str | None = None
    eventKey: str | None = None


_decode_keys = msgspec.json.Decoder(_Keys).decode


class NotAnEvent(ValueError):
    """The message is not a JSON object (so not a queue event)."""


class Deduplicator:
    """Remembers the dedup keys of the events a connection has been sent.

    Args:
        max_keys: Keys remembered; the oldest are forgotten beyond this.
    """

    __slots__ = ("_max", "_seen")

    def __init__(self, max_keys: int = MAX_REMEMBERED_KEYS) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._max = max_keys

    def first_time(self, data: bytes | str) -> bool:
        """Whether the event in ``data`` is new to this connection (and remember it).

        Raises:
            NotAnEvent: ``data`` is not a JSON object.
        """
        try:
            keys = _decode_keys(data)
        except msgspec.DecodeError as exc:
            raise NotAnEvent(str(exc)) from exc
        return self.first_time_key(keys.eventKey if keys.eventKey is not None else keys.id)

    def first_time_key(self, key: str | None) -> bool:
        """Whether an event with dedup key ``key`` is new to this connection (and remember it).

        ``None`` (no key) is always new.
        """
        if key is None:
            return True
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True
