"""The ``cloudrun`` execution backend of litestar-queues: tasks run as Cloud Run Job executions.

Talks to the Cloud Run Admin API v2 over HTTPS with httpx; no Google SDK. Verified against a
local stand-in of that API (the project's tests), not against Google Cloud.
"""

from __future__ import annotations

from litestar_queues_cloudrun.backend import CloudRunError, CloudRunExecutionBackend
from litestar_queues_cloudrun.credentials import METADATA_TOKEN_URL, AccessTokenSource
from litestar_queues_cloudrun.profile import CloudRunProfile

__all__ = (
    "METADATA_TOKEN_URL",
    "AccessTokenSource",
    "CloudRunError",
    "CloudRunExecutionBackend",
    "CloudRunProfile",
)
