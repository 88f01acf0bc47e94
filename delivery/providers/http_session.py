"""The requests sessions of the HTTP providers (Twilio, FCM), set up once per session.

A requests Session that trusts the environment reads the proxy variables, NO_PROXY and the
CA bundle variables again for every request: 77 µs of CPU a call on this machine, 3% of a
bulk worker's CPU in `make bench`'s throughput run, for settings that do not change while
the process runs. They are read once here, for the one host the session talks to, and the
session then stops looking.
"""

from __future__ import annotations

import os

import requests


def session_environment_freeze(session: requests.Session, url: str) -> None:
    """Apply the environment's proxy (unless NO_PROXY exempts `url`'s host) and CA bundle to
    `session` now, as requests would on each call, and stop it reading them per request."""
    session.proxies.update(requests.utils.get_environ_proxies(url, no_proxy=None))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle and session.verify is True:
        session.verify = ca_bundle
    session.trust_env = False
