"""Values the Redis backend cannot hold get a typed error before anything is written.

Each case hands the backend a record (or an outcome, a time, an option) outside what it can store
and read back, and checks the error's type, that its message names the option, that it does not
repeat the value, and that nothing was stored. The server's refusals (out of memory, a damaged
key, a missing permission) come back as the core's errors too.
"""

from __future__ import annotations

import enum
import socket
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
import redis.asyncio as aioredis

from litestar_queues import (
    BackendUnavailableError,
    MalformedRecordError,
    Outcome,
    QueueConfig,
    QueueConfigurationError,
    QueueService,
    SerializationError,
    TaskRegistry,
    task,
)
from litestar_queues_redis import RedisQueueBackend
from tests.redis._support import at, record
from tests.servers import RedisServer

if TYPE_CHECKING:
    from litestar_queues.models import TaskRecord

pytestmark = pytest.mark.anyio

SECRET = "hunter2-secret"


def deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


CONFIG_CASES: list[tuple[str, dict[str, Any]]] = [
    ("timeout", {"timeout": 10**400}),
    ("timeout", {"timeout": float("nan")}),
    ("timeout", {"timeout": float("inf")}),
    ("timeout", {"timeout": -123456.75}),
    ("timeout", {"timeout": 0}),
    ("timeout", {"timeout": True}),
    ("timeout", {"timeout": SECRET}),
    ("timeout", {"timeout": 2.0**60}),
    ("priority", {"priority": 2**53 + 1}),
    ("priority", {"priority": -(2**53) - 1}),
    ("priority", {"priority": 10**400}),
    ("priority", {"priority": 1.5}),
    ("priority", {"priority": True}),
    ("priority", {"priority": float("nan")}),
    ("run_at", {"run_at": datetime(9999, 12, 31, tzinfo=UTC), "status": "scheduled"}),
    ("run_at", {"run_at": datetime(1, 1, 1, tzinfo=UTC)}),
    ("run_at", {"run_at": datetime(2030, 1, 1)}),  # naive: would read back aware
    ("run_at", {"run_at": SECRET}),
    ("created_at", {"created_at": SECRET}),
    ("created_at", {"created_at": datetime(9999, 12, 31, tzinfo=UTC)}),  # beyond the listing position
    ("created_at", {"created_at": datetime(1, 1, 1, tzinfo=UTC)}),
    ("started_at", {"started_at": 1_700_000_000}),
    ("retries", {"max_retries": -1}),
    ("retries", {"max_retries": 2**53}),
    ("max_reclaims", {"max_reclaims": 2**64}),
    ("max_reclaims", {"max_reclaims": None}),
    ("attempts", {"attempts": -1}),
    ("runs", {"runs": 1.0}),
    ("reclaims", {"reclaims": "0"}),
    ("queue", {"queue": ""}),
    ("queue", {"queue": 12345678}),
    ("key", {"key": ""}),
    ("key", {"key": SECRET.encode()}),
    ("task_name", {"task_name": ""}),
    ("status", {"status": "running"}),
    ("status", {"status": "completed"}),
    ("status", {"status": SECRET}),
    ("id", {"id": SECRET}),
    ("execution_backend", {"execution_backend": 5}),
    ("worker_id", {"worker_id": 1}),
]
SERIALIZATION_CASES: list[tuple[str, dict[str, Any]]] = [
    ("metadata", {"metadata": [(SECRET, 1)]}),
    ("metadata", {"metadata": SECRET}),
    ("args", {"args": SECRET}),
    ("args", {"args": {SECRET: 1}}),
    ("kwargs", {"kwargs": [SECRET]}),
    ("JSON", {"args": [object()]}),
    ("JSON", {"args": [SECRET + "\ud800"]}),
    ("JSON", {"kwargs": {SECRET: deep_list(10_000)}}),
    ("JSON", {"metadata": {(SECRET, 1): 1}}),
    ("JSON", {"queue": SECRET + "\ud800"}),
    ("JSON", {"key": SECRET + "\udfff"}),
]


def case_id(case: tuple[str, dict[str, Any]]) -> str:
    name, fields = case
    return f"{name}-" + ",".join(f"{k}={type(v).__name__}" for k, v in fields.items())


def forbidden(fields: dict[str, Any]) -> list[str]:
    """Texts of the values that must not appear in a message (long enough to be distinctive).

    Every container case holds ``SECRET``, so its repr (deeply nested, maybe) is not needed.
    """
    texts = [SECRET]
    for value in fields.values():
        text = "" if isinstance(value, list | dict) else repr(value)
        if len(text) >= 6:
            texts.append(text[:12])
    return texts


async def stored_keys(raw: aioredis.Redis, backend: RedisQueueBackend) -> list[bytes]:
    return [key async for key in raw.scan_iter(match=backend.keys.tag + "*")]


async def assert_rejected(
    backend: RedisQueueBackend,
    raw: aioredis.Redis,
    bad: TaskRecord,
    error: type[Exception],
    name: str,
    fields: dict[str, Any],
) -> None:
    good = record()
    with pytest.raises(error) as caught:
        await backend.enqueue([good, bad])
    message = str(caught.value)
    assert name in message
    for text in forbidden(fields):
        assert text not in message
    assert await stored_keys(raw, backend) == []  # the good record before it is not stored either


@pytest.mark.parametrize(("name", "fields"), CONFIG_CASES, ids=[case_id(c) for c in CONFIG_CASES])
async def test_a_field_out_of_range_is_refused_before_anything_is_stored(
    backend: RedisQueueBackend, raw: aioredis.Redis, name: str, fields: dict[str, Any]
) -> None:
    bad = msgspec.structs.replace(record(), **fields)
    await assert_rejected(backend, raw, bad, QueueConfigurationError, name, fields)


@pytest.mark.parametrize(
    ("name", "fields"), SERIALIZATION_CASES, ids=[case_id(c) for c in SERIALIZATION_CASES]
)
async def test_content_that_is_not_json_is_refused_before_anything_is_stored(
    backend: RedisQueueBackend, raw: aioredis.Redis, name: str, fields: dict[str, Any]
) -> None:
    bad = msgspec.structs.replace(record(), **fields)
    await assert_rejected(backend, raw, bad, SerializationError, name, fields)


async def test_the_limits_themselves_are_stored_and_read_back(backend: RedisQueueBackend) -> None:
    low = record(priority=-(2**53), timeout=2.0**53, max_retries=2**53 - 1, max_reclaims=2**53 - 1)
    high = record(priority=2**53, timeout=1e-9, metadata={"n": 10**400, "f": 1e308})
    early = msgspec.structs.replace(record(), run_at=datetime(1684, 7, 29, tzinfo=UTC))
    late = msgspec.structs.replace(record(), run_at=datetime(2255, 6, 4, tzinfo=UTC), status="scheduled")
    await backend.enqueue([low, high, early, late])
    for rec in (low, high, early, late):
        assert await backend.get(rec.id) == rec
    claimed = await backend.claim(queues=None, worker_id="w", limit=5, now=at(1), lease_until=at(2))
    assert [r.id for r in claimed] == [high.id, early.id, low.id]


class Level(enum.IntEnum):
    HIGH = 2


async def test_subclasses_and_empty_optional_texts_are_accepted(backend: RedisQueueBackend) -> None:
    rec = record(priority=Level.HIGH, timeout=3, error="", worker_id="")
    (result,) = await backend.enqueue([rec])
    assert result.created
    stored = await backend.get(rec.id)
    assert stored is not None and (stored.priority, stored.timeout, stored.error) == (2, 3.0, "")


registry = TaskRegistry()


@task("limits.noop", registry=registry)
async def noop() -> None:
    """Do nothing."""


@pytest.mark.parametrize("options", [{"timeout": 10**400}, {"priority": 2**60}, {"timeout": float("inf")}])
async def test_enqueue_through_the_service_gets_the_typed_error(
    redis_url: str, raw: aioredis.Redis, options: dict[str, Any]
) -> None:
    async with QueueService(QueueConfig(queue_backend=redis_url, registry=registry)) as service:
        with pytest.raises(QueueConfigurationError) as caught:
            await service.enqueue(noop, **options)
        backend = service.backend
        assert isinstance(backend, RedisQueueBackend)
        assert await stored_keys(raw, backend) == []
    assert str(next(iter(options.values())))[:12] not in str(caught.value)


async def claimed_one(backend: RedisQueueBackend) -> TaskRecord:
    rec = record()
    await backend.enqueue([rec])
    (claimed,) = await backend.claim(queues=None, worker_id="w", limit=1, now=at(1), lease_until=at(30))
    return claimed


@pytest.mark.parametrize(
    ("error", "fields"),
    [
        (SerializationError, {"kind": "complete", "result": {SECRET: object()}}),
        (SerializationError, {"kind": "complete", "result": [SECRET + "\ud800"]}),
        (QueueConfigurationError, {"kind": "retry", "run_at": datetime(9999, 1, 1, tzinfo=UTC)}),
        (QueueConfigurationError, {"kind": SECRET}),
        (QueueConfigurationError, {"kind": "fail", "error": 12345678}),
    ],
)
async def test_an_outcome_the_backend_cannot_hold_changes_nothing(
    backend: RedisQueueBackend, error: type[Exception], fields: dict[str, Any]
) -> None:
    claimed = await claimed_one(backend)
    other = await claimed_one(backend)
    good = Outcome(task_id=other.id, lease_id=other.lease_id or "", kind="complete")
    bad = msgspec.structs.replace(
        Outcome(task_id=claimed.id, lease_id=claimed.lease_id or "", kind="fail"), **fields
    )
    with pytest.raises(error) as caught:
        await backend.finish([good, bad], now=at(2))
    assert SECRET not in str(caught.value) and "12345678" not in str(caught.value)
    assert await backend.get(claimed.id) == claimed
    assert await backend.get(other.id) == other


async def test_a_time_out_of_range_is_refused(backend: RedisQueueBackend) -> None:
    far = datetime(9999, 1, 1, tzinfo=UTC)
    with pytest.raises(QueueConfigurationError, match="now"):
        await backend.claim(queues=None, worker_id="w", limit=1, now=far, lease_until=far)
    claimed = await claimed_one(backend)
    with pytest.raises(QueueConfigurationError, match="until"):
        await backend.extend_leases([(claimed.id, claimed.lease_id or "")], until=far)


async def test_a_value_redis_py_cannot_send_gets_a_typed_error(backend: RedisQueueBackend) -> None:
    with pytest.raises(QueueConfigurationError, match="DataError"):
        await backend.claim(queues=None, worker_id=None, limit=1, now=at(1), lease_until=at(2))  # type: ignore[arg-type]


# -- options and the server's refusals ------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": f"http://user:{SECRET}@localhost"},
        {"url": 6379},
        {"url": f"redis://localhost?result_ttl={SECRET}"},
        {"url": "redis://localhost", "result_ttl": float("inf")},
        {"url": "redis://localhost", "result_ttl": float("nan")},
        {"url": "redis://localhost", "result_ttl": 10**400},
        {"url": "redis://localhost", "result_ttl": 10.0**12},
        {"url": "redis://localhost", "result_ttl": True},
        {"url": "redis://localhost", "key_prefix": "{" + SECRET + "}"},
        {"url": "redis://localhost", "socket_timeout": float("nan")},
        {"url": "redis://localhost", "socket_timeout": 0},
    ],
    ids=lambda kwargs: ",".join(f"{k}={str(v)[:20]}" for k, v in kwargs.items()),
)
def test_an_invalid_option_is_refused_without_repeating_it(kwargs: dict[str, Any]) -> None:
    with pytest.raises(QueueConfigurationError) as caught:
        RedisQueueBackend(**kwargs)
    message = str(caught.value)
    assert SECRET not in message and "inf" not in message.split("(")[0] and "1000000" not in message


async def test_an_invalid_port_is_refused_at_open_without_repeating_the_url() -> None:
    backend = RedisQueueBackend(url=f"redis://user:{SECRET}@localhost:{SECRET}/0")
    with pytest.raises(QueueConfigurationError) as caught:
        await backend.open()
    assert SECRET not in str(caught.value)
    await backend.close()


async def test_an_unreachable_server_error_names_the_address_and_the_fix_never_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = RedisQueueBackend(url=f"redis://user:s3cret-pass@127.0.0.1:{port}/0")
    with pytest.raises(BackendUnavailableError) as caught:
        await backend.open()
    await backend.close()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message  # which server to check
    assert "s3cret-pass" not in message and "user" not in message
    assert "host, port and credentials" in message


async def test_get_of_a_malformed_record_does_not_repeat_its_id(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    rec = record()
    await backend.enqueue([rec])
    await raw.hset(backend.keys.record(rec.id), "rec", b"{")
    with pytest.raises(MalformedRecordError) as caught:
        await backend.get(rec.id)
    assert str(rec.id) not in str(caught.value)


async def test_a_server_out_of_memory_raises_backend_unavailable_naming_maxmemory() -> None:
    with RedisServer(aof=False, unix_socket=False) as server:
        client = aioredis.Redis.from_url(server.url)
        backend = RedisQueueBackend(url=server.url)
        await backend.open()
        try:
            await client.config_set("maxmemory-policy", "noeviction")
            await client.config_set("maxmemory", 1)
            with pytest.raises(BackendUnavailableError, match="maxmemory") as caught:
                await backend.enqueue([record(key=SECRET)])
            assert SECRET not in str(caught.value)
            await client.config_set("maxmemory", 0)
            (result,) = await backend.enqueue([record()])
            assert result.created
        finally:
            await backend.close()
            await client.aclose()


async def test_a_key_of_the_wrong_type_raises_malformed_record_naming_the_prefix(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    await backend.enqueue([record()])
    await raw.delete(backend.keys.queue("default", "ready"))
    await raw.set(backend.keys.queue("default", "ready"), SECRET)
    with pytest.raises(MalformedRecordError, match="key_prefix") as caught:
        await backend.claim(queues=["default"], worker_id="w", limit=1, now=at(1), lease_until=at(2))
    assert SECRET not in str(caught.value)


async def test_a_user_without_permission_gets_a_configuration_error(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    user = f"limited{uuid.uuid4().hex[:8]}"
    await raw.acl_setuser(
        user, enabled=True, passwords=[f"+{SECRET}"], keys=["*"], commands=["+@all", "-evalsha"]
    )
    backend = RedisQueueBackend(url=redis_server.url.replace("redis://", f"redis://{user}:{SECRET}@"))
    try:
        await backend.open()
        with pytest.raises(QueueConfigurationError, match="NOPERM") as caught:
            await backend.enqueue([record()])
        assert SECRET not in str(caught.value) and user not in str(caught.value)
    finally:
        await backend.close()
        await raw.acl_deluser(user)
