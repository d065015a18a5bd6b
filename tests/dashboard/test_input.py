"""Bad input gets a clear 400 (or 404) and changes nothing; actions are logged on litestar_queues.admin."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from litestar.testing import TestClient

from litestar_queues_litestar import QueuePlugin
from tests.dashboard._apps import LOOPBACK, fail, make_app, ok

if TYPE_CHECKING:
    from collections.abc import Iterator

    from litestar_queues import QueueService

ORIGIN = {"origin": LOOPBACK}


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with TestClient(make_app(), base_url=LOOPBACK) as client:
        yield client


def _service(client: TestClient[Any]) -> QueueService:
    service: QueueService = client.app.plugins.get(QueuePlugin).service
    return service


def _call(client: TestClient[Any], fn: Any, *args: Any, **kwargs: Any) -> Any:
    async def run() -> Any:
        return await fn(*args, **kwargs)

    with client.portal() as portal:
        return portal.call(run)


def _finished(client: TestClient[Any], task: Any) -> str:
    service = _service(client)

    async def run() -> str:
        handle = await service.enqueue(task)
        await handle.wait(timeout=5)
        return str(handle.id)

    with client.portal() as portal:
        return portal.call(run)


def _counts(client: TestClient[Any]) -> dict[str, dict[str, int]]:
    return _call(client, _service(client).stats).queues  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "unknown status &#39;bogus&#39;: one of pending, scheduled, running, completed"),
        ("order=sideways", "unknown order"),
        ("since=yesterday", "malformed age"),
        ("after=2024-13-45", "malformed time"),
        ("cursor=not-a-cursor", "malformed cursor"),
        ("id=12345", "malformed task id &#39;12345&#39;"),
    ],
)
def test_bad_task_list_filters_are_a_clear_400(client: TestClient[Any], query: str, message: str) -> None:
    paths = ("/queues/tasks",) if query.startswith("id=") else ("/queues/tasks", "/queues/fragments/tasks")
    for path in paths:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert message in response.text


def test_a_fragment_error_is_a_fragment(client: TestClient[Any]) -> None:
    response = client.get("/queues/fragments/tasks?status=bogus", headers={"X-Dashboard-Fetch": "1"})
    assert response.status_code == 400
    assert response.text.startswith('<p class="flash flash-error">') and "<html" not in response.text


def test_task_ids(client: TestClient[Any]) -> None:
    malformed = client.get("/queues/tasks/not-a-uuid")
    assert malformed.status_code == 400 and "malformed task id" in malformed.text
    assert client.get(f"/queues/tasks/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/queues/fragments/tasks/{uuid.uuid4()}").status_code == 404
    task_id = _finished(client, ok)
    found = client.get(f"/queues/tasks?id={task_id}", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/queues/tasks/{task_id}"


@pytest.mark.parametrize(
    ("action", "form", "status", "message"),
    [
        ("retry", {"task_id": "not-a-uuid"}, 400, "malformed task id"),
        ("retry", {}, 400, "a task id is needed"),
        ("cancel", {"task_id": "123"}, 400, "malformed task id"),
        ("retry", {"task_id": str(uuid.UUID(int=7))}, 404, "00000000-0000-0000-0000-000000000007"),
        ("purge", {"statuses": "running"}, 400, "running tasks cannot be purged"),
        ("purge", {"statuses": "done"}, 400, "not &#39;done&#39;"),
        ("purge", {}, 400, "purge takes statuses"),
        ("pause", {"queue": ""}, 400, "needs the queue"),
        ("pause_schedule", {"name": "nope"}, 404, "no schedule named"),
        ("explode", {}, 404, "unknown action"),
    ],
)
def test_bad_actions_are_refused_and_change_nothing(
    client: TestClient[Any], action: str, form: dict[str, str], status: int, message: str
) -> None:
    failed = _finished(client, fail)
    before = _counts(client)
    response = client.post(f"/queues/actions/{action}", data=form, headers=ORIGIN)
    assert response.status_code == status, response.text
    assert message in response.text
    assert _counts(client) == before
    assert _call(client, _service(client).get_task, failed).status == "failed"
    assert _call(client, _service(client).paused_queues) == set()
    confirm = client.get(f"/queues/confirm/{action}", params=form)
    assert confirm.status_code == status


def test_retrying_a_completed_task_is_refused(client: TestClient[Any]) -> None:
    done = _finished(client, ok)
    response = client.post("/queues/actions/retry", data={"task_id": done}, headers=ORIGIN)
    assert response.status_code == 400 and "only failed or cancelled tasks can be retried" in response.text
    assert _call(client, _service(client).get_task, done).status == "completed"


def test_the_confirmation_page_posts_the_checked_fields(client: TestClient[Any]) -> None:
    failed = _finished(client, fail)
    page = client.get(
        "/queues/confirm/retry", params={"task_id": f" {failed} ", "next": "https://evil.example/"}
    )
    assert page.status_code == 200
    assert f"Run task {failed} again?" in page.text
    assert f'name="task_id" value="{failed}"' in page.text
    assert 'name="next" value="/queues/"' in page.text  # never back to another site


def test_actions_are_logged_with_who_did_them(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    failed = _finished(client, fail)
    with caplog.at_level(logging.INFO, "litestar_queues.admin"):
        retried = client.post(
            "/queues/actions/retry", data={"task_id": failed, "next": "/queues/"}, headers=ORIGIN
        )
        paused = client.post("/queues/actions/pause", data={"queue": "mail"}, headers=ORIGIN)
    assert retried.status_code == 200 and f"task {failed} was failed: requeued" in retried.text
    assert paused.status_code == 200 and 'href="/queues/"' in paused.text
    messages = [r.getMessage() for r in caplog.records if r.name == "litestar_queues.admin"]
    assert any(
        m.startswith(f"dashboard: task {failed} was failed: requeued") and "(retry by testclient" in m
        for m in messages
    )
    assert any(m.startswith("dashboard: queue mail paused") for m in messages)
    assert "queue mail paused" in messages  # the service's own line


def test_every_page_and_fragment_renders(client: TestClient[Any]) -> None:
    task_id = _finished(client, fail)
    for path in (
        "/queues/",
        "/queues/tasks",
        "/queues/tasks?status=failed&order=oldest&since=1h",
        f"/queues/tasks/{task_id}",
        "/queues/schedules",
        "/queues/fragments/queues",
        "/queues/fragments/tasks?status=failed",
        f"/queues/fragments/tasks/{task_id}",
        "/queues/fragments/schedules",
        "/queues/static/dashboard.js",
        "/queues/static/dashboard.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
    assert client.get("/queues/static/other.js").status_code == 404


def test_the_queues_page_shows_each_queue_s_limit(client: TestClient[Any]) -> None:
    from litestar_queues import QueueLimit

    service = _service(client)
    _call(client, service.set_limit, "mail", QueueLimit(concurrency=5, rate=60, per=60.0))
    _call(client, service.set_limit, "imports", QueueLimit(key_concurrency=1))
    page = client.get("/queues/").text
    assert '<td class="queue-limit">concurrency 5, 60 per 1m</td>' in page
    assert '<td class="queue-limit">1 per limit key</td>' in page  # a queue without tasks is listed
    _call(client, service.set_limit, "mail", None)
    assert "concurrency 5" not in client.get("/queues/").text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "a limit needs a concurrency, a rate or a key concurrency; to remove the queue&#39;s limit"),
        ({"concurrency": "0"}, "concurrency must be a whole number from 1 to 2,147,483,647 (or empty"),
        ({"concurrency": "five"}, "concurrency must be a whole number"),
        ({"key_concurrency": "-1"}, "key concurrency must be a whole number"),
        ({"concurrency": "2147483648"}, "got &#39;2147483648&#39;"),
        ({"per": "1m"}, "per is the period of rate: give rate too"),
        ({"rate": "60", "per": "1y"}, "per takes a period such as 1s, 10s, 1m"),
        ({"rate": "60", "per": "0s"}, "per must be from 0.001 s"),
        ({"rate": "fast/1m"}, "rate takes N/PERIOD, e.g. 60/1m"),
        ({"rate": "60/1m", "per": "1s"}, "has its period in it already: leave per empty"),
        ({"rate": "1" * 41}, "rate is 41 characters long: at most 40"),
        ({"queue": "", "concurrency": "1"}, "set limit needs the queue&#39;s name"),
    ],
)
def test_a_bad_limit_is_a_clear_400_and_stores_nothing(
    client: TestClient[Any], form: dict[str, str], message: str
) -> None:
    from litestar_queues import QueueLimit

    service = _service(client)
    _call(client, service.set_limit, "mail", QueueLimit(concurrency=2))
    posted = {"queue": "mail", **form}
    for response in (
        client.post("/queues/actions/set_limit", data=posted, headers=ORIGIN),
        client.get("/queues/confirm/set_limit", params=posted),
    ):
        assert response.status_code == 400, response.text
        assert message in response.text
        assert 'class="confirm"' not in response.text
    assert _call(client, service.limits) == {"mail": QueueLimit(concurrency=2)}


def test_limits_are_set_changed_and_removed_from_the_queues_page(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    from litestar_queues import QueueLimit

    service = _service(client)
    confirm = client.get(
        "/queues/confirm/set_limit", params={"queue": "exports", "concurrency": " 3 ", "rate": "60/1m"}
    )
    assert confirm.status_code == 200
    assert "Set the limit of queue exports to concurrency 3, 60 per 1m, across every worker?" in confirm.text
    assert 'name="rate" value="60/1m"' in confirm.text and 'name="concurrency" value="3"' in confirm.text
    assert _call(client, service.limits) == {}  # asking changes nothing
    with caplog.at_level(logging.INFO, "litestar_queues.admin"):
        form = {"queue": "exports", "concurrency": "3", "rate": "60", "per": "1m", "key_concurrency": ""}
        done = client.post("/queues/actions/set_limit", data=form, headers=ORIGIN)
        assert done.status_code == 200
        assert "queue exports: limit set to concurrency 3, 60 per 1m; stored for every worker" in done.text
        limited = QueueLimit(concurrency=3, rate=60, per=60.0)
        assert _call(client, service.limits) == {"exports": limited}
        page = client.get("/queues/?limit=exports").text  # the row's Change limit… link fills in the form
        assert '<td class="queue-limit">concurrency 3, 60 per 1m</td>' in page  # no tasks, listed
        assert 'href="/queues/?limit=exports#limit">Change limit…</a>' in page
        for name, value in (("queue", "exports"), ("concurrency", "3"), ("rate", "60"), ("per", "1m")):
            assert f'name="{name}"' in page and f'value="{value}"' in page
        changed = {"queue": "exports", "key_concurrency": "1"}
        assert client.post("/queues/actions/set_limit", data=changed, headers=ORIGIN).status_code == 200
        assert _call(client, service.limits) == {"exports": QueueLimit(key_concurrency=1)}
        removed = client.post("/queues/actions/clear_limit", data={"queue": "exports"}, headers=ORIGIN)
        assert removed.status_code == 200 and "queue exports: limit removed" in removed.text
        again = client.post("/queues/actions/clear_limit", data={"queue": "exports"}, headers=ORIGIN)
        assert "queue exports has no limit: nothing to remove" in again.text
    assert _call(client, service.limits) == {}
    assert 'data-queue="exports"' not in client.get("/queues/").text
    messages = [r.getMessage() for r in caplog.records if r.name == "litestar_queues.admin"]
    assert any(
        m.startswith("dashboard: queue exports: limit set to concurrency 3, 60 per 1m")
        and "(set_limit by" in m
        for m in messages
    )
    assert any(m.startswith("dashboard: queue exports: limit removed (clear_limit by") for m in messages)
    assert "queue exports: limit removed" in messages  # the service's own line


def test_a_cross_site_limit_change_is_refused(client: TestClient[Any]) -> None:
    form = {"queue": "mail", "concurrency": "1"}
    refused = client.post("/queues/actions/set_limit", data=form, headers={"origin": "https://evil.example"})
    assert refused.status_code == 403
    assert _call(client, _service(client).limits) == {}


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": 5},
        {"rate": 60, "per": 60.0, "key_concurrency": 2},
        {"rate": 7, "per": 0.1234567},
        {"rate": 1, "per": 1234567.5},
        {"concurrency": 2_147_483_647, "rate": 3, "per": 90.0},
    ],
)
def test_the_form_shows_a_limit_as_it_reads_it(options: dict[str, Any]) -> None:
    from litestar_queues import QueueLimit
    from litestar_queues_litestar.dashboard.limit_form import form_values, limit_from_form

    limit = QueueLimit(**options)
    assert limit_from_form(form_values(limit)) == limit
    assert form_values(None) == {"concurrency": "", "rate": "", "per": "", "key_concurrency": ""}
