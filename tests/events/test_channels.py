"""Channel names and QueueEventPublisher channel resolution."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from litestar_queues.events import LIFECYCLE_EVENT_TYPES, QueueChannels, QueueEvent, QueueEventPublisher


def test_channel_names_are_exact() -> None:
    assert QueueChannels.task("abc") == "litestar_queues:task:abc:events"
    assert QueueChannels.queue("reports") == "litestar_queues:queue:reports:events"
    assert QueueChannels.worker("worker-12") == "litestar_queues:worker:worker-12:events"
    assert QueueChannels.global_channel() == "litestar_queues:global:events"
    assert QueueChannels.custom("tenant-1") == "litestar_queues:custom:tenant-1:events"


def test_canonical_channel_follows_the_scope() -> None:
    publisher = QueueEventPublisher([])
    cases = [
        (QueueEvent(type="x", scope="task", task_id="t1"), ["litestar_queues:task:t1:events"]),
        (
            QueueEvent(type="x", scope="task", scope_key="t2", task_id="t1"),
            ["litestar_queues:task:t2:events"],
        ),
        (QueueEvent(type="x", scope="queue", queue="q"), ["litestar_queues:queue:q:events"]),
        (QueueEvent(type="x", scope="worker", worker_id="w"), ["litestar_queues:worker:w:events"]),
        (QueueEvent(type="x", scope="global"), ["litestar_queues:global:events"]),
        (QueueEvent(type="x", scope="custom", scope_key="c"), ["litestar_queues:custom:c:events"]),
        (QueueEvent(type="x", scope="custom"), []),
        (QueueEvent(type="x", scope="task"), []),
    ]
    for event, expected in cases:
        assert publisher.channels_for(event) == expected


_types = st.sampled_from([*sorted(LIFECYCLE_EVENT_TYPES), "task.progress", "task.log", "video.ready"])
_channel = st.sampled_from(
    [
        "litestar_queues:task:t1:events",
        "litestar_queues:global:events",
        "litestar_queues:custom:a:events",
        "litestar_queues:custom:b:events",
        "app:other",
    ]
)


@given(
    event_type=_types,
    scope=st.sampled_from(["task", "queue", "worker", "global", "custom"]),
    include_global=st.booleans(),
    extra=st.lists(_channel, max_size=8),
)
def test_resolution_is_canonical_then_global_then_explicit_without_duplicates(
    event_type: str, scope: str, include_global: bool, extra: list[str]
) -> None:
    event = QueueEvent(type=event_type, scope=scope, task_id="t1", queue="q", worker_id="w", scope_key=None)  # type: ignore[arg-type]
    if scope == "custom":
        event = QueueEvent(type=event_type, scope="custom", scope_key="a")
    publisher = QueueEventPublisher([], publish_global_lifecycle=include_global)
    channels = publisher.channels_for(event, extra)

    expected: list[str] = []
    canonical = {
        "task": "litestar_queues:task:t1:events",
        "queue": "litestar_queues:queue:q:events",
        "worker": "litestar_queues:worker:w:events",
        "global": "litestar_queues:global:events",
        "custom": "litestar_queues:custom:a:events",
    }[scope]
    for channel in (
        [canonical]
        + (
            ["litestar_queues:global:events"]
            if include_global and event_type in LIFECYCLE_EVENT_TYPES
            else []
        )
        + extra
    ):
        if channel not in expected:
            expected.append(channel)
    assert channels == expected
    assert len(set(channels)) == len(channels)
    assert set(extra) <= set(channels)
    assert channels[0] == canonical
    in_global = "litestar_queues:global:events" in channels
    assert in_global == (
        scope == "global"
        or (include_global and event_type in LIFECYCLE_EVENT_TYPES)
        or "litestar_queues:global:events" in extra
    )
