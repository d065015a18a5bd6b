"""The ``cloudrun`` execution backend of litestar-queues: tasks run as Cloud Run Job executions.

Talks to the Cloud Run Admin API v2 over HTTPS with httpx; credentials come from google-auth
(application default credentials, or the ones given). Verified against a local stand-in of that
API and of Google's token endpoints (the project's tests), not against Google Cloud.
"""

from __future__ import annotations

from litestar_queues_cloudrun.backend import CloudRunError, CloudRunExecutionBackend
from litestar_queues_cloudrun.credentials import CLOUD_PLATFORM_SCOPE, CredentialsError, CredentialSource
from litestar_queues_cloudrun.profile import CloudRunProfile

__all__ = (
    "CLOUD_PLATFORM_SCOPE",
    "CloudRunError",
    "CloudRunExecutionBackend",
    "CloudRunProfile",
    "CredentialSource",
    "CredentialsError",
)
