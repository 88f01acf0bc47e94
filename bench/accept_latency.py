"""Accept latency of POST /api/v1/notifications against a running Clarion (`make run`).

    .venv/bin/python -m bench.accept_latency --base-url http://127.0.0.1:8000

Creates (once) a bench category and 1,000 bench users in the configured database, then
sends sequential POSTs with 1 and with 1,000 recipients and prints p50/p99 per size.
This is a quick probe, not the benchmark (`make bench`, issue 7).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid

import django
import requests


def _prepare(recipient_count: int) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    from notifications.api_keys import api_key_create
    from notifications.models import Category, Template

    category, _ = Category.objects.get_or_create(
        slug="bench", defaults={"name": "Bench", "default_channels": ["in_app"], "sample_data": {"n": 1}}
    )
    Template.objects.get_or_create(
        category=category, channel="in_app", locale="en", defaults={"title": "Bench {{ n }}"}
    )
    user_model = get_user_model()
    existing = set(user_model.objects.filter(username__startswith="bench_").values_list("username", flat=True))
    user_model.objects.bulk_create(
        [
            user_model(username=f"bench_{i}", email=f"bench_{i}@example.com")
            for i in range(recipient_count)
            if f"bench_{i}" not in existing
        ]
    )
    return api_key_create(f"bench-{uuid.uuid4().hex[:6]}")[1]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _measure(base_url: str, key: str, recipients: list[str], count: int) -> dict[str, float]:
    session = requests.Session()
    session.headers["Authorization"] = f"Api-Key {key}"
    latencies = []
    for i in range(count):
        body = {"category": "bench", "recipients": recipients, "data": {"n": i}}
        started = time.perf_counter()
        response = session.post(f"{base_url}/api/v1/notifications", json=body, timeout=60)
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return {
        "requests": count,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(_percentile(latencies, 0.99), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--single", type=int, default=300, help="1-recipient requests")
    parser.add_argument("--bulk", type=int, default=20, help="1,000-recipient requests")
    args = parser.parse_args()
    key = _prepare(1000)
    results = {
        "1_recipient": _measure(args.base_url, key, ["bench_0"], args.single),
        "1000_recipients": _measure(args.base_url, key, [f"bench_{i}" for i in range(1000)], args.bulk),
    }
    print(f"{'size':<18}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, row in results.items():
        print(f"{name:<18}{row['requests']:>10}{row['p50_ms']:>10}{row['p99_ms']:>10}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
