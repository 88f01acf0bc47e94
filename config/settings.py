"""Clarion settings: every value comes from the environment (DESIGN.md §4).

Development defaults make `make run` work with nothing set; production secrets have none.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# --- Django core -------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "channels",
    "notifications",
    "preferences",
    "delivery",
    "digests",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Requests one web process runs at once, each on a thread (config/wsgi_threads.py). A request
# spends most of its time waiting on PostgreSQL and Redis, so a process needs many in flight:
# with asyncio's default six, accept at 300 requests/s fell behind (p50 1.7 s) while the
# process used under half a core (`make bench`, accept, with the workers running beside it).
CLARION_WEB_THREADS = env.int("CLARION_WEB_THREADS", default=16)

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: WAL lets readers run beside a writer and
    # IMMEDIATE transactions take the write lock up front instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests run worker and server processes beside pytest, so the test database is a file;
    # named per test run, so that two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")}
else:
    # Django's backend, whose pool drops a connection PostgreSQL closed before handing it out.
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    # A connection pool per process (psycopg_pool), not persistent connections: under ASGI
    # Django serves each request on its own thread, and a connection kept per thread
    # outlives it, so CONN_MAX_AGE leaked connections until PostgreSQL refused new ones.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 1,
            # A connection for each web thread: fewer would leave requests waiting for one.
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=CLARION_WEB_THREADS),
            "timeout": env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=10.0),
        },
        # Parameters go to the server apart from the statement instead of being quoted into it
        # in Python: a bulk insert of 1,000 notifications spent a third of its CPU quoting.
        "server_side_binding": True,
    }
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Only needed for `collectstatic` in production; WhiteNoise serves straight from the apps'
# static folders otherwise, so `make run` needs no collectstatic step.
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=None)
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# The largest legitimate API body is 1,000 recipients and 64 KiB of data.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

CLARION_LOG_FORMAT = env("CLARION_LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.json_logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "clarion": {"class": "logging.StreamHandler", "formatter": CLARION_LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": env("CLARION_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The Twilio client logs every request's method, URL and headers at INFO: ten lines a send.
        "twilio.http_client": {"level": "WARNING"},
        # Clarion's own loggers write JSON lines (addresses masked) for log pipelines.
        **{app: {"handlers": ["clarion"], "propagate": False} for app in ("notifications", "preferences", "delivery")},
    },
}

# --- REST framework ----------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["notifications.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["notifications.api_parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "notifications.api_errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["notifications.api_rate_limit.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Requests per second per API key, sustained, and the burst a key may spend at once (a token
# bucket in Redis); every request made with a key costs one. A rate of 0 turns the limit off.
CLARION_API_RATE_LIMIT = env.float("CLARION_API_RATE_LIMIT", default=1000.0)
CLARION_API_BURST = env.int("CLARION_API_BURST", default=2000)
# New low-priority notifications are refused (429) while the pipeline queue or a channel queue
# they would use holds more than this many messages; 0 turns shedding off.
CLARION_SHED_LOW_PRIORITY_DEPTH = env.int("CLARION_SHED_LOW_PRIORITY_DEPTH", default=50000)

# The OpenAPI description at /api/schema/ and its Swagger UI at /api/docs/ (notifications/api_schema.py
# says what lives where). Both are public: they describe the API; the calls still need credentials.
SPECTACULAR_SETTINGS = {
    "TITLE": "Clarion API",
    "DESCRIPTION": "Multi-channel notifications for apps: send, follow deliveries, manage users' "
    "preferences, devices and in-app inboxes. Every error is a 4xx with the body "
    '`{"error": {"code", "message", "fields"}}`, or a 503 in the same shape, with Retry-After, '
    "while the database cannot be reached.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "TAGS": [
        {"name": "notifications", "description": "Send notifications and follow their deliveries (API key)."},
        {"name": "preferences", "description": "Users' settings and per category × channel choices (API key)."},
        {"name": "devices", "description": "Push tokens (API key, or the user's own session)."},
        {"name": "inbox", "description": "One user's in-app inbox (session or inbox token), and minting tokens."},
        {"name": "about", "description": "What the API offers."},
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "notifications.api_schema.retry_after_document",
    ],
    "ENUM_NAME_OVERRIDES": {
        "Channel": "notifications.channels.Channel",
        "Priority": "notifications.models.Priority",
        "Platform": "delivery.models.Device.Platform",
        "DigestFrequency": "preferences.models.DigestFrequency",
    },
    # No validator badge: it would send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "deepLinking": True},
}

# --- Redis, Celery and Channels ----------------------------------------------------------

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")

# The longest a Celery ETA may be held unacknowledged; Redis redelivers after this, so it
# must exceed the longest deferral (DESIGN.md invariant 4). The database sweeper is the
# real safety net either way.
CELERY_VISIBILITY_TIMEOUT_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=26 * 3600)

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# Without this Celery closes the database connection around every task (PROVIDERS.md).
CELERY_WORKER_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULER = env("CELERY_BEAT_SCHEDULER", default="django_celery_beat.schedulers:DatabaseScheduler")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # Hosts must be a list; the pool size lifts redis-py's default cap of 100 sockets.
        # The default capacity of 100 messages per server process drops the pushes of a large
        # in-app send (the items are stored; clients catch up on reconnect).
        # A consumer waits for its next message with a blocking pop of 5 s (channels_redis'
        # brpop_timeout), and redis-py 8 gives every socket a 5 s read timeout by default
        # (redis/redis-py#4091): whichever came first, Redis' empty answer or the client's
        # timeout, decided whether a quiet websocket lived on or its consumer died with a
        # TimeoutError and the socket dropped (2 of 1,000 in a `make bench` in-app run on a
        # loaded machine). No read timeout, as before redis-py 8: the pop bounds the wait, and
        # a consumer being closed no longer waits out its last pop either.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "max_connections": 2000, "socket_timeout": None}],
            "capacity": 10000,
        },
    },
}

# --- Clarion pipeline --------------------------------------------------------------------

# Each task's fixed costs (its message, the planner's queries, the publishing) are shared by
# the chunk: 200 delivered 4–7% more than 100 in paired `make bench` throughput runs, with
# the fan-out, in-app and priority figures unchanged; a send's window, not the chunk, bounds
# what a worker crash leaves in doubt (delivery/send_pool.py).
CLARION_CHUNK_SIZE = env.int("CLARION_CHUNK_SIZE", default=200)
CLARION_SWEEP_INTERVAL_SECONDS = env.float("CLARION_SWEEP_INTERVAL_SECONDS", default=30.0)
# A row older than its grace period in a transitional state is presumed lost in transit.
CLARION_ACCEPTED_GRACE_SECONDS = env.float("CLARION_ACCEPTED_GRACE_SECONDS", default=120.0)
CLARION_QUEUED_GRACE_SECONDS = env.float("CLARION_QUEUED_GRACE_SECONDS", default=600.0)
CLARION_SCHEDULED_GRACE_SECONDS = env.float("CLARION_SCHEDULED_GRACE_SECONDS", default=120.0)
# Longer, because a delivery in `sending` may be mid-call: re-sending it risks a duplicate.
CLARION_SENDING_GRACE_SECONDS = env.float("CLARION_SENDING_GRACE_SECONDS", default=1800.0)
CLARION_MAX_ATTEMPTS_PER_PROVIDER = env.int("CLARION_MAX_ATTEMPTS_PER_PROVIDER", default=5)
CLARION_RETRY_BASE_SECONDS = env.float("CLARION_RETRY_BASE_SECONDS", default=2.0)
CLARION_RETRY_MAX_SECONDS = env.float("CLARION_RETRY_MAX_SECONDS", default=300.0)
CLARION_PROVIDER_TIMEOUT_SECONDS = env.float("CLARION_PROVIDER_TIMEOUT_SECONDS", default=10.0)
# Provider calls one send task overlaps (delivery/send_pool.py): providers answer in 50-300 ms,
# so one call at a time caps a worker process near 10 sends/s. Also sizes the HTTP pools.
CLARION_SEND_CONCURRENCY = env.int("CLARION_SEND_CONCURRENCY", default=16)
# Lifetime of the inbox tokens apps mint for their front ends (POST /api/v1/users/{id}/inbox-token).
CLARION_INBOX_TOKEN_SECONDS = env.int("CLARION_INBOX_TOKEN_SECONDS", default=3600)

# --- Circuit breakers and rate limits (shared by all workers through Redis) ---------------

# A provider's breaker opens when its success rate over the window falls below the threshold
# (with at least the minimum volume of results), lets `PROBES` sends through after the
# cooldown, and closes when they succeed. See delivery/breaker.py.
CLARION_BREAKER_THRESHOLD = env.float("CLARION_BREAKER_THRESHOLD", default=0.95)
CLARION_BREAKER_WINDOW_SECONDS = env.float("CLARION_BREAKER_WINDOW_SECONDS", default=60.0)
CLARION_BREAKER_MIN_VOLUME = env.int("CLARION_BREAKER_MIN_VOLUME", default=20)
CLARION_BREAKER_COOLDOWN_SECONDS = env.float("CLARION_BREAKER_COOLDOWN_SECONDS", default=30.0)
CLARION_BREAKER_PROBES = env.int("CLARION_BREAKER_PROBES", default=3)
# Sends per second per provider across all workers, e.g. "twilio=100,ses=14"; none by default.
# (Parsed here: django-environ's float cast reads "100,ses=14" as one number.)
CLARION_RATE_LIMITS = {name: float(rate) for name, rate in env.dict("CLARION_RATE_LIMITS", default={}).items()}
# A send waits at most this long for its rate-limit slot, then is rescheduled instead.
CLARION_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("CLARION_RATE_LIMIT_MAX_WAIT_SECONDS", default=2.0)

# How often due digests are looked for; digests are due on the minute at the earliest.
CLARION_DIGEST_FLUSH_INTERVAL_SECONDS = env.float("CLARION_DIGEST_FLUSH_INTERVAL_SECONDS", default=60.0)

# Registered in code; django-celery-beat's DatabaseScheduler copies it into the admin.
CELERY_BEAT_SCHEDULE = {
    "clarion-sweep-stuck": {
        "task": "delivery.tasks.pipeline_sweep_task",
        "schedule": CLARION_SWEEP_INTERVAL_SECONDS,
        "options": {"queue": "maintenance", "expires": CLARION_SWEEP_INTERVAL_SECONDS},
    },
    "clarion-digest-flush": {
        "task": "digests.tasks.digest_flush_task",
        "schedule": CLARION_DIGEST_FLUSH_INTERVAL_SECONDS,
        "options": {"queue": "maintenance", "expires": CLARION_DIGEST_FLUSH_INTERVAL_SECONDS},
    },
}

# --- Metrics -----------------------------------------------------------------------------

# prometheus_client's multi-process mode: every process writes its samples to files here and
# GET /metrics adds them up. The library picks the mode when it is first imported, so the
# variable is set here, in the environment, which every process (web, worker, beat, tests)
# loads before any metric; `make run` empties the directory at start.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(BASE_DIR / "var" / "prometheus"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
# Scrapers send `Authorization: Bearer <token>`; unset, only staff sessions may read /metrics.
CLARION_METRICS_TOKEN = env("CLARION_METRICS_TOKEN", default="")
# How often the staff dashboard reloads its charts.
CLARION_DASHBOARD_REFRESH_SECONDS = max(1, env.int("CLARION_DASHBOARD_REFRESH_SECONDS", default=10))

# --- Links in messages -------------------------------------------------------------------

# Where this Clarion is reachable from a recipient's mail client: unsubscribe links are absolute.
CLARION_BASE_URL = env("CLARION_BASE_URL", default="http://127.0.0.1:8000")
CLARION_UNSUBSCRIBE_MAX_AGE_SECONDS = env.int("CLARION_UNSUBSCRIBE_MAX_AGE_SECONDS", default=60 * 24 * 3600)

# --- Providers ---------------------------------------------------------------------------

AWS_REGION = env("AWS_REGION", default="us-east-1")
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default="")
CLARION_EMAIL_FROM = env("CLARION_EMAIL_FROM", default="Clarion <notifications@localhost>")

EMAIL_HOST = env("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = CLARION_PROVIDER_TIMEOUT_SECONDS
DEFAULT_FROM_EMAIL = CLARION_EMAIL_FROM


# SMS: Twilio first, AWS SNS (publish to a phone number) second. boto3 reads
# AWS_ENDPOINT_URL_SNS itself, as it does AWS_ENDPOINT_URL_SESV2.
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")
# A local Twilio-compatible server (development, tests); empty means Twilio itself.
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="")

# Push: a Firebase service-account JSON; its project is the one FCM sends for.
FIREBASE_CREDENTIALS = env("FIREBASE_CREDENTIALS", default="")
# A local FCM-compatible server (development, tests); empty means FCM itself.
FCM_ENDPOINT_URL = env("FCM_ENDPOINT_URL", default="")


def _default_email_chain() -> list[str]:
    chain = (["ses"] if AWS_ACCESS_KEY_ID else []) + (["smtp"] if EMAIL_HOST else [])
    return chain or ["outbox"]


def _default_sms_chain() -> list[str]:
    chain = (["twilio"] if TWILIO_ACCOUNT_SID else []) + (["sns"] if AWS_ACCESS_KEY_ID else [])
    return chain or ["outbox"]


def _default_push_chain() -> list[str]:
    return ["fcm"] if FIREBASE_CREDENTIALS else ["outbox"]


CLARION_EMAIL_PROVIDERS = env.list("CLARION_EMAIL_PROVIDERS", default=_default_email_chain())
CLARION_SMS_PROVIDERS = env.list("CLARION_SMS_PROVIDERS", default=_default_sms_chain())
CLARION_PUSH_PROVIDERS = env.list("CLARION_PUSH_PROVIDERS", default=_default_push_chain())
