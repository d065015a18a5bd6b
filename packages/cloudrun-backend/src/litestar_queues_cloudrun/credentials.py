"""Access tokens for the Cloud Run Admin API, found the usual Google way; none are stored.

Order: the ``GOOGLE_OAUTH_ACCESS_TOKEN`` environment variable, then ``CLOUDSDK_AUTH_ACCESS_TOKEN``
(what ``gcloud`` honours), then the metadata server of the machine the worker runs on (Cloud Run,
GKE, Compute Engine: the attached service account).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import anyio
import httpx
import msgspec

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("METADATA_TOKEN_URL", "TOKEN_ENVIRONMENT_VARIABLES", "AccessTokenSource")

METADATA_TOKEN_URL = (
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
)
"""Where the metadata server hands out the attached service account's access token."""

TOKEN_ENVIRONMENT_VARIABLES = ("GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN")
"""Environment variables read (in order) for a ready-made access token."""

_REFRESH_MARGIN = 60.0


class _MetadataToken(msgspec.Struct):
    access_token: str
    expires_in: float = 300.0
    token_type: str = "Bearer"


class AccessTokenSource:
    """Hands out a bearer token: from the environment, else from the metadata server (cached).

    Args:
        metadata_url: Token endpoint of the metadata server (a loopback URL in tests).
        environment_variables: Environment variables read first, in order.
    """

    def __init__(
        self,
        *,
        metadata_url: str = METADATA_TOKEN_URL,
        environment_variables: Sequence[str] = TOKEN_ENVIRONMENT_VARIABLES,
    ) -> None:
        self.metadata_url = metadata_url
        self.environment_variables = tuple(environment_variables)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = anyio.Lock()

    async def token(self, client: httpx.AsyncClient) -> str:
        """Return a valid access token.

        Raises:
            QueueConfigurationError: No token is in the environment and the metadata server did
                not hand one out.
        """
        for name in self.environment_variables:
            value = os.environ.get(name)
            if value:
                return value
        async with self._lock:
            if self._token is not None and anyio.current_time() < self._expires_at:
                return self._token
            try:
                response = await client.get(self.metadata_url, headers={"Metadata-Flavor": "Google"})
                response.raise_for_status()
                found = msgspec.json.decode(response.content, type=_MetadataToken)
            except (httpx.HTTPError, msgspec.DecodeError) as exc:
                raise QueueConfigurationError(
                    "no Google access token: set GOOGLE_OAUTH_ACCESS_TOKEN or run where the metadata "
                    f"server is reachable ({self.metadata_url}): {exc!r}"
                ) from None
            self._token = found.access_token
            self._expires_at = anyio.current_time() + max(found.expires_in - _REFRESH_MARGIN, 0.0)
            return found.access_token

    def forget(self) -> None:
        """Drop the cached token (after the API rejected it)."""
        self._token = None
