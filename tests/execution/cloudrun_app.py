"""A worker configuration with the cloudrun backend and no credentials given: google-auth finds them.

``LQ_CLOUDRUN_API`` is the stand-in's URL; the queue URL comes from the same variable as
``tests.execution.app``.
"""

from __future__ import annotations

import os

from litestar_queues import QueueConfig, WorkerConfig
from litestar_queues_cloudrun import CloudRunExecutionBackend
from tests.execution import app

config = QueueConfig(
    queue_backend=os.environ[app.URL_VARIABLE],
    app=app.APP,
    worker=WorkerConfig(lease_seconds=3, poll_interval=0.2),
    execution_backends={"cloudrun": CloudRunExecutionBackend(api_base_url=os.environ["LQ_CLOUDRUN_API"])},
    execution_profiles={
        "remote": {
            "backend": "cloudrun",
            "project": "acme",
            "region": "local1",
            "job": "tasks",
            "poll_interval": 0.2,
        }
    },
)
