"""boto3 clients for the AWS adapters: one attempt per call with our timeout, because Celery
owns retries (with backoff the delivery log can see).

A client is thread-safe (a boto3 session is not: `boto3.client` is only called here, on one
thread, when the chain is built) and is shared by the send pool's threads. Its connection
pool keeps as many connections as calls can be in flight; botocore's default of 10 would
drop and reopen connections (a TLS handshake each) beyond the tenth concurrent send.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings


def aws_client(service: str, region: str, timeout_seconds: float) -> Any:
    return boto3.client(
        service,
        region_name=region,
        config=Config(
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=max(10, settings.CLARION_SEND_CONCURRENCY),
        ),
    )
