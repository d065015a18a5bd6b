"""Who the dashboard serves: the loopback rule without guards, guards, basic auth, same-origin actions."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues_litestar import QueuePlugin
from litestar_queues_litestar.dashboard import BasicAuthGuard, DashboardConfig
from litestar_queues_litestar.dashboard.access import (
    cross_origin_problem,
    is_loopback_address,
    is_loopback_host,
)
from tests.dashboard._apps import LOOPBACK, allow_all, make_app

if TYPE_CHECKING:
    from litestar_queues import QueueService


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_addresses(host: Any, loopback: bool) -> None:
    assert is_loopback_address(host) is loopback


@pytest.mark.parametrize(
    ("header", "loopback"),
    [
        ("localhost:8000", True),
        ("127.0.0.1:8000", True),
        ("[::1]:8000", True),
        ("app.localhost", True),
        ("LOCALHOST", True),
        ("evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("localhost.evil.example:8000", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_host_headers(header: str | None, loopback: bool) -> None:
    assert is_loopback_host(header) is loopback


def test_unguarded_dashboard_serves_loopback_requests_and_warns_at_startup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.WARNING, "litestar_queues.litestar"),
        TestClient(make_app(), base_url=LOOPBACK) as client,
    ):
        response = client.get("/queues/")
    assert response.status_code == 200
    assert "<h1>Queues</h1>" in response.text
    assert any("has no guards" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("http://testserver.local", None),  # the server socket is not a loopback address
        ("http://10.0.0.5:8000", None),
        (LOOPBACK, "evil.example:8000"),  # DNS rebinding: a loopback socket, another site's name
    ],
)
def test_unguarded_dashboard_refuses_everything_else_with_the_fix(base_url: str, host: str | None) -> None:
    headers = {"host": host} if host else {}
    with TestClient(make_app(), base_url=base_url) as client:
        for path in ("/queues/", "/queues/tasks", "/queues/fragments/queues", "/queues/static/dashboard.js"):
            response = client.get(path, headers=headers)
            assert response.status_code == 403, path
            assert "add guards" in response.text.lower() and "127.0.0.1" in response.text
        assert client.post("/queues/actions/pause", data={"queue": "q"}, headers=headers).status_code == 403


def test_guards_decide_once_given() -> None:
    with TestClient(make_app(DashboardConfig(guards=[allow_all])), base_url="http://10.0.0.5") as client:
        assert client.get("/queues/").status_code == 200


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_guard() -> None:
    guard = BasicAuthGuard("ops", "pw")
    assert "pw" not in repr(guard)
    with TestClient(make_app(DashboardConfig(guards=[guard])), base_url="http://10.0.0.5") as client:
        missing = client.get("/queues/")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith('Basic realm="litestar-queues"')
        assert "user name and password" in missing.text
        for headers in (_basic("ops", "wrong"), _basic("root", "pw"), {"Authorization": "Basic !!!"}):
            assert client.get("/queues/", headers=headers).status_code == 401
        assert client.get("/queues/", headers=_basic("ops", "pw")).status_code == 200
    with pytest.raises(ValueError, match="non-empty password"):
        BasicAuthGuard("ops", "")


def _paused(client: TestClient[Any]) -> set[str]:
    plugin = client.app.plugins.get(QueuePlugin)
    service: QueueService = plugin.service
    with client.portal() as portal:
        return portal.call(service.paused_queues)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "neither an Origin nor a Referer"),
        ({"origin": "http://evil.example"}, "sent from http://evil.example"),
        ({"origin": "null", "referer": "http://evil.example/page"}, "sent from http://evil.example"),
        ({"origin": "http://127.0.0.1:8000", "sec-fetch-site": "cross-site"}, "from another site"),
        ({"origin": "http://127.0.0.1:9999"}, "sent from http://127.0.0.1:9999"),
    ],
)
def test_actions_from_other_sites_are_refused_and_change_nothing(
    headers: dict[str, str], reason: str
) -> None:
    with TestClient(make_app(), base_url=LOOPBACK) as client:
        response = client.post("/queues/actions/pause", data={"queue": "mail"}, headers=headers)
        assert response.status_code == 403
        assert reason in response.text
        assert _paused(client) == set()


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://127.0.0.1:8000"},
        {"referer": "http://127.0.0.1:8000/queues/"},
        {"origin": "http://127.0.0.1:8000", "sec-fetch-site": "same-origin"},
    ],
)
def test_actions_from_the_dashboards_pages_are_done(headers: dict[str, str]) -> None:
    with TestClient(make_app(), base_url=LOOPBACK) as client:
        response = client.post("/queues/actions/pause", data={"queue": "mail"}, headers=headers)
        assert response.status_code == 200, response.text
        assert "queue mail paused" in response.text
        assert _paused(client) == {"mail"}


def test_cross_origin_rules() -> None:
    assert cross_origin_problem({"host": "a.example", "origin": "https://a.example"}) is None
    assert cross_origin_problem({"host": "internal:8000", "origin": "https://a.example"}) is not None
    assert (
        cross_origin_problem(
            {"host": "internal:8000", "x-forwarded-host": "a.example", "origin": "https://a.example"}
        )
        is None
    )
    trusted = ("https://a.example",)
    assert (
        cross_origin_problem(
            {"host": "internal:8000", "origin": "https://A.example"}, trusted_origins=trusted
        )
        is None
    )
    assert "malformed" in (cross_origin_problem({"host": "a", "origin": "not a url"}) or "")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"path": "queues"}, "path"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": float("nan")}, "poll_interval"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 5000}, "page_size"),
        ({"guards": ["not callable"]}, "guards"),
        ({"guards": "x"}, "guards"),
        ({"redact": 42}, "redact"),
    ],
)
def test_config_rejects_bad_values(options: dict[str, Any], field: str) -> None:
    with pytest.raises(QueueConfigurationError, match=field):
        DashboardConfig(**options)


def test_the_dashboard_is_off_by_default() -> None:
    with TestClient(Litestar(plugins=[QueuePlugin()]), base_url=LOOPBACK) as client:
        assert client.get("/queues/").status_code == 404
