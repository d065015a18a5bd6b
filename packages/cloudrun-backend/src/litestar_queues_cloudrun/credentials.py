"""Google credentials for the Cloud Run Admin API, through google-auth; nothing is stored.

By default the backend uses Google's *application default credentials*
(:func:`google.auth.default`), found at the first API call in this order: a key or
configuration file named by ``GOOGLE_APPLICATION_CREDENTIALS`` (a service account key, a
workload identity federation configuration, an impersonated service account), the gcloud CLI's
``application_default_credentials.json``, then the metadata server of the machine the worker
runs on (Cloud Run, GKE with workload identity, Compute Engine: the attached service account).
google-auth refreshes the token before it expires; an API answer 401 forces one refresh.

Pass any :class:`google.auth.credentials.Credentials` instead to choose them yourself (for
example ``google.oauth2.credentials.Credentials(token)`` for a token obtained elsewhere, or
``google.auth.impersonated_credentials.Credentials(...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import google.auth
import google.auth.credentials
import google.auth.exceptions
import requests
from google.auth.transport.requests import Request

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from google.auth.credentials import Credentials

__all__ = ("CLOUD_PLATFORM_SCOPE", "CredentialSource", "CredentialsError")

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
"""The OAuth scope the Cloud Run Admin API accepts."""


class CredentialsError(Exception):
    """No access token could be obtained (the token endpoint refused or could not be reached)."""


class CredentialSource:
    """Hands out the request headers of valid credentials, refreshing them through google-auth.

    Token requests are blocking HTTP calls in google-auth: they run in a worker thread, one at a
    time.

    Args:
        credentials: The credentials to use (default: application default credentials, looked
            up at the first call).
        scopes: OAuth scopes requested when the credentials need them.
    """

    def __init__(
        self, credentials: Credentials | None = None, *, scopes: Sequence[str] = (CLOUD_PLATFORM_SCOPE,)
    ) -> None:
        self.scopes = tuple(scopes)
        self._credentials: Credentials | None = (
            # google-auth leaves some of its functions unannotated
            google.auth.credentials.with_scopes_if_required(credentials, self.scopes)  # type: ignore[no-untyped-call]
            if credentials is not None
            else None
        )
        self._session: requests.Session | None = None
        self._stale = False
        self._lock = anyio.Lock()

    @property
    def credentials(self) -> Credentials | None:
        """The credentials in use (``None`` until the default ones were looked up)."""
        return self._credentials

    async def headers(self) -> dict[str, str]:
        """The ``Authorization`` (and quota project) headers of valid credentials.

        Raises:
            QueueConfigurationError: No application default credentials were found.
            CredentialsError: A token could not be obtained or refreshed.
        """
        async with self._lock:
            credentials = self._credentials
            if credentials is None:
                credentials = self._credentials = await anyio.to_thread.run_sync(self._default)
            if self._stale or not credentials.valid:
                await anyio.to_thread.run_sync(self._refresh, credentials)
                self._stale = False
            headers: dict[str, str] = {}
            credentials.apply(headers)  # type: ignore[no-untyped-call]
            return headers

    def invalidate(self) -> None:
        """Refresh before the next call (the API refused the token)."""
        self._stale = True

    def close(self) -> None:
        """Close the HTTP session used for token requests."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def _request(self) -> Request:
        if self._session is None:
            self._session = requests.Session()
        return Request(session=self._session)

    def _default(self) -> Credentials:
        try:
            credentials, _project = google.auth.default(scopes=self.scopes, request=self._request())
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise QueueConfigurationError(
                "no Google credentials for the Cloud Run Admin API: set GOOGLE_APPLICATION_CREDENTIALS "
                "to a service account key or workload identity configuration, run `gcloud auth "
                "application-default login`, run on Google Cloud with a service account, or pass "
                f"CloudRunExecutionBackend(credentials=...): {exc}"
            ) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            # found, but google-auth could not finish loading them (e.g. a project id lookup)
            name = type(exc).__name__
            raise CredentialsError(f"could not load Google credentials ({name}): {exc}") from exc
        return credentials

    def _refresh(self, credentials: Credentials) -> None:
        try:
            credentials.refresh(self._request())  # type: ignore[no-untyped-call]
        except google.auth.exceptions.GoogleAuthError as exc:
            name = type(exc).__name__
            raise CredentialsError(f"could not get a Google access token ({name}): {exc}") from exc
