"""boto3 clients for the AWS adapters: one attempt per call with our timeout, because Celery
owns retries (with backoff the delivery log can see)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def aws_client(service: str, region: str, timeout_seconds: float) -> Any:
    return boto3.client(
        service,
        region_name=region,
        config=Config(
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"total_max_attempts": 1, "mode": "standard"},
        ),
    )
