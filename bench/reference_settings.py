"""Settings of the references' web server: bench/reference_urls.py answers HTTP, and Clarion's
own websocket consumer answers websockets, so the in-app references reach the same clients."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.reference_urls"
