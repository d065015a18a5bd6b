"""Who may use the dashboard: the loopback rule, HTTP basic auth, and the same-origin check of actions."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler

__all__ = (
    "UNGUARDED_MESSAGE",
    "BasicAuthGuard",
    "basic_auth_user",
    "cross_origin_problem",
    "is_loopback_address",
    "is_loopback_host",
    "loopback_guard",
    "loopback_problem",
)

UNGUARDED_MESSAGE = (
    "the queue dashboard has no guards, so it serves only requests to a server bound to a loopback "
    "address (127.0.0.1 or ::1) under a loopback host name (localhost). Add guards: "
    "QueuePlugin(config, dashboard=DashboardConfig(guards=[...])), or bind the server to 127.0.0.1"
)
"""Why an unguarded dashboard refused a request, and the two fixes."""


def is_loopback_address(host: object) -> bool:
    """Whether ``host`` (an address from ``scope["server"]``) is a loopback address."""
    if not isinstance(host, str) or not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _hostname(host_header: str) -> str:
    """The name in a ``Host`` header, without the port (``[::1]:8000`` gives ``::1``)."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def is_loopback_host(host_header: str | None) -> bool:
    """Whether a ``Host`` header names this machine: ``localhost``, ``*.localhost`` or a loopback address.

    Checked besides the server's address so that a page of another site whose name resolves to
    127.0.0.1 (DNS rebinding) cannot read an unguarded dashboard.
    """
    if not host_header:
        return False
    name = _hostname(host_header)
    return name == "localhost" or name.endswith(".localhost") or is_loopback_address(name)


def loopback_problem(scope: Any, host_header: str | None) -> str | None:
    """Why an unguarded dashboard refuses this request, or ``None`` when it may serve it."""
    server = scope.get("server")
    if not server or not is_loopback_address(server[0]):
        return UNGUARDED_MESSAGE
    if not is_loopback_host(host_header):
        return UNGUARDED_MESSAGE
    return None


def loopback_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of a dashboard configured without guards: loopback requests only.

    Raises:
        PermissionDeniedException: The server socket is not a loopback address, or the ``Host``
            header does not name this machine (403, with :data:`UNGUARDED_MESSAGE`).
    """
    problem = loopback_problem(connection.scope, connection.headers.get("host"))
    if problem is not None:
        raise PermissionDeniedException(detail=problem)


def basic_auth_user(authorization: str | None) -> tuple[str, str] | None:
    """The ``(user, password)`` of a ``Basic`` ``Authorization`` header, or ``None``."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


class BasicAuthGuard:
    """A guard that admits requests carrying one user name and password (HTTP basic auth).

    The standalone ``litestar-queues dashboard`` uses it when given a password. The password
    travels with every request: serve it over HTTPS (a TLS-terminating proxy) off this machine.

    Args:
        username: The user name to expect.
        password: The password to expect (not empty).
        realm: The realm browsers show in their password prompt.
    """

    __slots__ = ("_password", "realm", "username")

    def __init__(self, username: str, password: str, *, realm: str = "litestar-queues") -> None:
        if not password:
            raise ValueError("BasicAuthGuard needs a non-empty password")
        self.username = username
        self._password = password.encode()
        self.realm = realm

    def __repr__(self) -> str:
        return f"BasicAuthGuard(username={self.username!r}, password='••••••')"

    def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        """Admit the request, or refuse it with 401 and a ``WWW-Authenticate`` challenge.

        Raises:
            NotAuthorizedException: The credentials are missing or wrong.
        """
        given = basic_auth_user(connection.headers.get("authorization"))
        # both compared, in constant time, whichever differs
        user_ok = given is not None and hmac.compare_digest(given[0].encode(), self.username.encode())
        password_ok = given is not None and hmac.compare_digest(given[1].encode(), self._password)
        if not (user_ok and password_ok):
            raise NotAuthorizedException(
                detail="the queue dashboard needs its user name and password",
                headers={"WWW-Authenticate": f'Basic realm="{self.realm}", charset="UTF-8"'},
            )


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_origin_problem(headers: Any, *, trusted_origins: Iterable[str] = ()) -> str | None:
    """Why a POST may come from another site, or ``None`` when it comes from the dashboard's own pages.

    The browser's ``Origin`` header (else its ``Referer``) must name the host the request was
    sent to (``Host``, or ``X-Forwarded-Host`` set by a proxy) or one of ``trusted_origins``;
    a ``Sec-Fetch-Site`` of ``cross-site`` or ``same-site`` is refused outright. A cross-site
    form cannot set these headers, and a cross-site script that tries is stopped by the
    browser's CORS preflight, which the dashboard never answers.
    """
    fetch_site = (headers.get("sec-fetch-site") or "").lower()
    if fetch_site in ("cross-site", "same-site"):
        return (
            f"refused: the browser says this action was sent from another site (Sec-Fetch-Site: {fetch_site})"
        )
    origin = headers.get("origin")
    source = "Origin"
    if not origin or origin == "null":
        origin = headers.get("referer")
        source = "Referer"
    if not origin:
        return (
            "refused: the request has neither an Origin nor a Referer header, so the dashboard cannot "
            "tell that it was sent from its own pages"
        )
    seen = _origin_of(origin)
    if seen is None:
        return f"refused: malformed {source} header"
    if seen in set(trusted_origins):
        return None
    hosts = {h.strip().lower() for h in (headers.get("host"), headers.get("x-forwarded-host")) if h}
    hosts |= {h.split(",", 1)[0].strip() for h in hosts}
    if urlsplit(seen).netloc in hosts:
        return None
    return (
        f"refused: this action was sent from {seen}, not from the dashboard's own host; behind a proxy "
        "that rewrites the Host header, add the public origin to DashboardConfig(trusted_origins=[...])"
    )
