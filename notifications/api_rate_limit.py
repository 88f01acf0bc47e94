"""A rate limit per API key: a token bucket in Redis, shared by every web process.

The bucket refills at CLARION_API_RATE_LIMIT tokens a second and holds CLARION_API_BURST.
Every request made with the key takes one token, whichever endpoint it calls and however many
recipients it names: the web tier's cost is mostly per request (authentication, one
transaction), one request's recipients are capped already (MAX_RECIPIENTS), and what reaches
each person is bounded by the per-user caps of the policy, not here.

It is a DRF throttle, so it runs after authentication (an unknown key gets its 401 without
touching a bucket) and before the view. Requests not made with an API key (sessions, inbox
tokens) pass untouched.

Redis unreachable: the request passes, and a warning is logged. What an accept promises is
the committed row in the database, which the sweeper enqueues once Redis is back; refusing
every app while Redis is down would turn a broker outage into an API outage and lose the
notifications apps cannot replay.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from delivery.provider_health import delivery_redis
from delivery.rate_limit import Grant, TokenBucket
from monitoring.metrics import api_rejection_record
from notifications.models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

KEY_PREFIX = "clarion:api-ratelimit"


@dataclass(frozen=True)
class ApiRateLimit:
    rate: float  # requests per second, sustained; 0 or less: no limit
    burst: int  # requests a full bucket lets through at once

    def __str__(self) -> str:
        return f"{self.rate:g} requests/s, burst {self.burst}"


def api_rate_limit() -> ApiRateLimit:
    return ApiRateLimit(rate=settings.CLARION_API_RATE_LIMIT, burst=max(1, settings.CLARION_API_BURST))


def api_key_token_take(api_key_id: int, limit: ApiRateLimit, now: float | None = None) -> Grant:
    """Take one token from the key's bucket: one Redis round trip. Not granted, nothing is
    taken, and `wait_seconds` says when a token is free. `now` replaces Redis' clock, for
    tests. Raises redis.RedisError when Redis cannot be reached."""
    bucket = TokenBucket(delivery_redis(), prefix=KEY_PREFIX, capacity=limit.burst, headroom=0)
    return bucket.acquire(str(api_key_id), limit.rate, max_wait=0, now=now)


class ApiKeyRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        limit = api_rate_limit()
        if not isinstance(request.auth, ApiKey) or limit.rate <= 0:
            return True
        try:
            grant = api_key_token_take(request.auth.pk, limit)
        except redis.RedisError as error:
            logger.warning("Redis unavailable, API requests pass without their rate limit: %s", error)
            return True
        if grant.granted:
            return True
        # Imported here: DRF imports this throttle while defining APIView, and api_errors
        # imports rest_framework.views, so a module-level import is circular.
        from notifications.api_errors import TooManyRequests

        api_rejection_record("rate_limited")
        retry_after = max(1, math.ceil(grant.wait_seconds))
        # Raised rather than returning False: DRF's own Throttled carries the wait but neither
        # the limit nor the project's error shape.
        raise TooManyRequests(
            retry_after,
            "rate_limited",
            f"Too many requests with this API key: the limit is {limit}. Retry in {retry_after} s.",
            {"api_key": f"Over its rate limit of {limit}."},
        )
