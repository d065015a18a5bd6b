"""The QueueEvent wire format: camelCase names, nulls kept, payload verbatim, UTC with Z, round trip."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues.events import SCHEMA_VERSION, QueueEvent, decode_event, encode_event

WIRE_NAMES = [
    "type",
    "scope",
    "id",
    "schemaVersion",
    "scopeKey",
    "taskId",
    "taskName",
    "queue",
    "workerId",
    "executionBackend",
    "executionProfile",
    "attempt",
    "sequence",
    "level",
    "message",
    "progressCurrent",
    "progressTotal",
    "progressPercent",
    "actor",
    "entity",
    "payload",
    "occurredAt",
    "eventKey",
]
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def test_wire_names_are_exactly_the_camel_case_core_fields() -> None:
    wire = json.loads(encode_event(QueueEvent(type="task.log", scope="task")))
    assert sorted(wire) == sorted(WIRE_NAMES)
    assert len(WIRE_NAMES) == 23


def test_null_fields_stay_on_the_wire() -> None:
    wire = json.loads(encode_event(QueueEvent(type="custom.thing", scope="global")))
    nulls = {name for name, value in wire.items() if value is None}
    assert nulls == set(WIRE_NAMES) - {"type", "scope", "id", "schemaVersion", "occurredAt"}


def test_payload_keys_are_passed_through_verbatim() -> None:
    payload = {"video_id": 1, "nested_key": {"inner_snake": [1, {"deep_key": None}]}, "camelKey": "x"}
    wire = json.loads(encode_event(QueueEvent(type="task.event", scope="task", payload=payload)))
    assert wire["payload"] == payload


def test_defaults_make_type_and_scope_enough() -> None:
    before = datetime.now(UTC)
    events = [QueueEvent(type="task.log", scope="task") for _ in range(50)]
    after = datetime.now(UTC)
    assert len({e.id for e in events}) == 50
    assert all(e.schema_version == SCHEMA_VERSION == 1 for e in events)
    assert all(before <= e.occurred_at <= after and e.occurred_at.tzinfo is not None for e in events)
    assert events[0].dedup_key == events[0].id
    assert QueueEvent(type="t", scope="task", event_key="k").dedup_key == "k"


def test_full_event_wire_values() -> None:
    when = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    event = QueueEvent(
        type="task.progress",
        scope="task",
        id="e1",
        scope_key="t1",
        task_id="t1",
        task_name="imports.run",
        queue="default",
        worker_id="worker-1",
        execution_backend="local",
        execution_profile="heavy",
        attempt=2,
        sequence=7,
        level="info",
        message="half",
        progress_current=5,
        progress_total=10,
        progress_percent=50.0,
        actor="user-1",
        entity="import:1",
        payload={"a_b": 1},
        occurred_at=when,
        event_key="k1",
    )
    assert json.loads(encode_event(event)) == {
        "type": "task.progress",
        "scope": "task",
        "id": "e1",
        "schemaVersion": 1,
        "scopeKey": "t1",
        "taskId": "t1",
        "taskName": "imports.run",
        "queue": "default",
        "workerId": "worker-1",
        "executionBackend": "local",
        "executionProfile": "heavy",
        "attempt": 2,
        "sequence": 7,
        "level": "info",
        "message": "half",
        "progressCurrent": 5,
        "progressTotal": 10,
        "progressPercent": 50.0,
        "actor": "user-1",
        "entity": "import:1",
        "payload": {"a_b": 1},
        "occurredAt": "2030-05-06T07:08:09.123456Z",
        "eventKey": "k1",
    }


def test_occurred_at_is_utc_with_a_trailing_z_whatever_the_input_zone() -> None:
    instant = datetime(2030, 1, 1, 12, tzinfo=UTC)
    for value in (
        instant,
        instant.astimezone(timezone(timedelta(hours=5, minutes=30))),
        instant.replace(tzinfo=None),
    ):
        event = QueueEvent(type="t", scope="task", occurred_at=value)
        wire = json.loads(encode_event(event))["occurredAt"]
        assert wire == "2030-01-01T12:00:00Z"
        assert decode_event(encode_event(event)) == event
    # msgspec's own encoder gives the same wire form, so sinks may encode events either way
    assert (
        json.loads(msgspec.json.encode(QueueEvent(type="t", scope="task", occurred_at=instant)))["occurredAt"]
        == "2030-01-01T12:00:00Z"
    )


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_text = st.none() | st.text(max_size=12)
_num = st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6)
_when = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC) | st.none()
) | st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)).map(
    lambda d: d.replace(tzinfo=timezone(timedelta(hours=-7)))
)


@given(
    type_=st.text(min_size=1, max_size=20),
    scope=st.sampled_from(["task", "queue", "worker", "global", "custom"]),
    texts=st.lists(_text, min_size=12, max_size=12),
    ints=st.lists(st.none() | st.integers(0, 2**40), min_size=2, max_size=2),
    nums=st.lists(_num, min_size=3, max_size=3),
    payload=_json,
    occurred_at=_when,
)
def test_decode_of_encode_is_the_same_event(
    type_: str,
    scope: Any,
    texts: list[str | None],
    ints: list[int | None],
    nums: list[float | None],
    payload: Any,
    occurred_at: datetime,
) -> None:
    event = QueueEvent(
        type=type_,
        scope=scope,
        scope_key=texts[0],
        task_id=texts[1],
        task_name=texts[2],
        queue=texts[3],
        worker_id=texts[4],
        execution_backend=texts[5],
        execution_profile=texts[6],
        level=texts[7],
        message=texts[8],
        actor=texts[9],
        entity=texts[10],
        event_key=texts[11],
        attempt=ints[0],
        sequence=ints[1],
        progress_current=nums[0],
        progress_total=nums[1],
        progress_percent=nums[2],
        payload=payload,
        occurred_at=occurred_at,
    )
    data = encode_event(event)
    decoded = decode_event(data)
    assert decoded == event
    assert json.loads(encode_event(decoded)) == json.loads(data)
    wire = json.loads(data)
    assert RFC3339_Z.match(wire["occurredAt"])
    assert sorted(wire) == sorted(WIRE_NAMES)
    assert wire["payload"] == payload
