"""Shared fixtures: the real Redis, API clients, and real processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis
from channels.layers import channel_layers
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from delivery.chains import provider_chain
from notifications.lookup_cache import lookup_caches_clear
from tests import factories
from tests.support.processes import ProcessFactory
from tests.support.quick_bench import quick_bench_start_if_collected, quick_bench_stop

# The SQLite test database is a file (see settings) so worker processes can share it.
(Path(__file__).resolve().parent.parent / "var").mkdir(exist_ok=True)

# Short grace periods and fast retries, so the sweeper and retries act within a test.
FAST_PIPELINE_ENV = {
    "CLARION_SWEEP_INTERVAL_SECONDS": "1",
    "CLARION_ACCEPTED_GRACE_SECONDS": "2",
    "CLARION_QUEUED_GRACE_SECONDS": "3",
    "CLARION_SCHEDULED_GRACE_SECONDS": "2",
    "CLARION_SENDING_GRACE_SECONDS": "5",
    "CLARION_RETRY_BASE_SECONDS": "0.2",
    "CLARION_RETRY_MAX_SECONDS": "1",
    "CLARION_PROVIDER_TIMEOUT_SECONDS": "5",
    # Breakers that judge a provider over two seconds, not a minute, and probe again after a
    # fifth of one, so that an outage a test plays out by a count of errors ends in seconds.
    "CLARION_BREAKER_WINDOW_SECONDS": "2",
    "CLARION_BREAKER_COOLDOWN_SECONDS": "0.2",
    "CLARION_LOG_LEVEL": "INFO",
}


def pytest_configure(config: pytest.Config) -> None:
    """A shell runs a background job (`make test &`) with SIGINT ignored, which every process
    a test starts would inherit: the Ctrl-C tests could not reach them. A handler of this
    process' own is reset to the default in each program it starts."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_finish(session: pytest.Session) -> None:
    quick_bench_start_if_collected(session)


def pytest_unconfigure(config: pytest.Config) -> None:
    quick_bench_stop(config)


@pytest.fixture(scope="session", autouse=True)
def metrics_dir(tmp_path_factory: pytest.TempPathFactory):
    """This test run's own prometheus_client directory, so that runs side by side (or `make
    run`) never add up each other's samples. prometheus_client reads the variable when a
    process records its first sample, which no import does: before the first test is early
    enough. The processes of each end-to-end test get a directory of their own (`processes`)."""
    path = tmp_path_factory.mktemp("prometheus")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROMETHEUS_MULTIPROC_DIR", str(path))
        yield path


@pytest.fixture(autouse=True)
def lookup_caches_fresh() -> None:
    """No API key or category kept from an earlier test, whose rows were rolled back."""
    lookup_caches_clear()


@pytest.fixture(autouse=True)
def channel_layer_fresh() -> None:
    """A channel layer of this test's own. Tests run their async code on event loops of their
    own (asyncio.run, async_to_sync), and channels_redis keeps its receive locks per layer,
    bound to the loop that first waited on them: one left held by a finished test's loop
    broke a later test's receive ("bound to a different event loop")."""
    channel_layers.backends = {}


@pytest.fixture
def redis_client() -> redis.Redis:
    """The Redis that settings point at (REDIS_URL, or the embedded one `make test` starts)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.ping()
    return client


@pytest.fixture
def outbox_chains(settings):
    """Every channel's chain is the dev outbox (in-app keeps its inbox): sends land in the
    database, where a test reads them."""
    settings.CLARION_EMAIL_PROVIDERS = ["outbox"]
    settings.CLARION_SMS_PROVIDERS = ["outbox"]
    settings.CLARION_PUSH_PROVIDERS = ["outbox"]
    provider_chain.cache_clear()
    yield
    provider_chain.cache_clear()


@pytest.fixture
def api_key(db) -> str:
    return factories.api_key()


@pytest.fixture
def api_client(api_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client


def subprocess_database_url() -> str:
    """The test database, as a DATABASE_URL other processes can open."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def processes(transactional_db, redis_client: redis.Redis, tmp_path: Path):
    """Start real Clarion processes against the test database and a clean Redis."""
    redis_client.flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
        # The test's web, worker and beat add up their metrics there, and nobody else's.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        **FAST_PIPELINE_ENV,
    }
    factory = ProcessFactory(env, tmp_path)
    yield factory
    factory.stop_all()
    redis_client.flushdb()


@pytest.fixture
def smtp_server():
    from tests.support.smtp_server import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server_session():
    from tests.support.moto_server import MotoServer

    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto_server(moto_server_session):
    """A real SES API (moto) on 127.0.0.1, with no verified identities and nothing sent."""
    moto_server_session.reset()
    yield moto_server_session
    moto_server_session.reset()


@pytest.fixture
def ses_fault_proxy(moto_server):
    """A proxy in front of `moto_server` that can answer with SES errors (`fail_next`)."""
    from tests.support.fault_proxy import FaultProxy

    proxy = FaultProxy(moto_server.url).start()
    yield proxy
    proxy.stop()
