"""Settings for every process, read from the environment (see .env.example for each variable)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

# Development only: config.settings.production refuses this key (and any short one).
DEV_SECRET_KEY = "dev-insecure-change-me"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Locks an address out of the admin login after repeated failures (router.rate_limits).
    "axes",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and ReDoc served from the project's static files: no CDN, so the docs render offline.
    "drf_spectacular_sidecar",
    "messaging",
    "operations",
    "delivery",
    "router",
    "email_service",
    "sms_service",
    "whatsapp_service",
    "logging_service",
]

MIDDLEWARE = [
    "router.middleware.ApiMetricsMiddleware",  # first: it counts every answer, errors included
    "django.middleware.security.SecurityMiddleware",
    # docker/ (issue 6): static files served by the app itself, right after SecurityMiddleware as
    # WhiteNoise asks. DEBUG: from the apps; else STATIC_ROOT (collectstatic).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees exceptions straight from the views: JSON 500s under /api/.
    "router.middleware.ApiJsonErrorsMiddleware",
    "axes.middleware.AxesMiddleware",  # as django-axes asks: after AuthenticationMiddleware, last
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first, so a locked-out address is refused before any check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_LOCKOUT_CALLABLE = "router.rate_limits.admin_lockout_response"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- Databases: one per service --------------------------------------------------
DATABASE_ENV_VARS = {
    "default": ("ROUTER_DATABASE_URL", "router"),
    "email": ("EMAIL_DATABASE_URL", "email"),
    "sms": ("SMS_DATABASE_URL", "sms"),
    "whatsapp": ("WHATSAPP_DATABASE_URL", "whatsapp"),
}
SQLITE_BUSY_TIMEOUT_SECONDS = env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20)


# How hard SQLite syncs a commit to disk (WAL mode). The router's database holds what a 202 promised
# when Kafka did not acknowledge at once (the outbox) and the index of every message: FULL, so a power
# loss cannot take back a commit. A channel database stays NORMAL: a commit lost there (WAL still
# intact up to the last fsync) is redone from Kafka, whose offsets move only after it.
SQLITE_SYNCHRONOUS = {
    "default": env("ROUTER_SQLITE_SYNCHRONOUS", default="FULL"),
    **{channel: env("CHANNEL_SQLITE_SYNCHRONOUS", default="NORMAL") for channel in ("email", "sms", "whatsapp")},
}


def tune_sqlite(database: dict[str, Any], *, synchronous: str) -> dict[str, Any]:
    """WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at BEGIN,
    so two writers queue on the busy timeout instead of failing mid-transaction."""
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("OPTIONS", {}).update(
            {
                "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};",
                "transaction_mode": "IMMEDIATE",
                "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
            }
        )
    return database


DATABASES = {
    alias: tune_sqlite(
        env.db_url(var, default=f"sqlite:///{VAR_DIR / 'db' / f'{name}.sqlite3'}"),
        synchronous=SQLITE_SYNCHRONOUS[alias],
    )
    for alias, (var, name) in DATABASE_ENV_VARS.items()
}
# Persistent connections: a worker or API thread keeps its connection (and the PRAGMAs run on
# connect) instead of opening one per message or request; a broken one is dropped before reuse.
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", default=600)
for _database in DATABASES.values():
    _database.setdefault("CONN_MAX_AGE", DB_CONN_MAX_AGE)
    _database.setdefault("CONN_HEALTH_CHECKS", True)
(VAR_DIR / "db").mkdir(parents=True, exist_ok=True)  # SQLite creates files, not directories
DATABASE_ROUTERS = ["config.db_routers.ServiceDatabaseRouter"]
# Which database each app's models and migrations live in; apps not listed use `default`.
DATABASE_APPS_MAPPING = {
    "email_service": "email",
    "sms_service": "sms",
    "whatsapp_service": "whatsapp",
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- Kafka -----------------------------------------------------------------------
KAFKA_BOOTSTRAP_SERVERS = env("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092")
KAFKA_TOPIC_PREFIX = env("KAFKA_TOPIC_PREFIX", default="")
KAFKA_TOPIC_PARTITIONS = env.int("KAFKA_TOPIC_PARTITIONS", default=3)
KAFKA_REPLICATION_FACTOR = env.int("KAFKA_REPLICATION_FACTOR", default=1)
# The largest record a producer sends (librdkafka's message.max.bytes; the broker's default takes it).
# The API refuses a message whose envelope would not fit, so every 202 is one Kafka can take.
KAFKA_MAX_MESSAGE_BYTES = env.int("KAFKA_MAX_MESSAGE_BYTES", default=1_000_000)
# Seconds a producer waits for Kafka's acknowledgement before reporting failure.
KAFKA_DELIVERY_TIMEOUT_SECONDS = env.float("KAFKA_DELIVERY_TIMEOUT_SECONDS", default=10.0)
# How long a consumer may go silent (crashed, SIGKILLed, partitioned) before the group hands its
# partitions to another member. librdkafka's 45 s default stalls a channel that long after a crash;
# heartbeats run on librdkafka's own thread, so a slow handler does not count against this.
KAFKA_SESSION_TIMEOUT_MS = env.int("KAFKA_SESSION_TIMEOUT_MS", default=10_000)

# --- Delivery (per channel) -------------------------------------------------------
CHANNELS = ("email", "sms", "whatsapp")
DELIVERY_MAX_ATTEMPTS = {channel: env.int(f"{channel.upper()}_MAX_ATTEMPTS", default=4) for channel in CHANNELS}
DELIVERY_RETRY_DELAYS = {
    channel: env.list(f"{channel.upper()}_RETRY_DELAYS", default=["2s", "10s", "60s"]) for channel in CHANNELS
}
# How long a message may wait for its provider when the request gives no `expiresAt` (counted from its
# sendAt, else from its acceptance); after it, it ends `expired` unsent. Like Twilio's validity period:
# a 4-hour-old login code is worthless, an email still useful a day later. Read here, so a value that
# does not parse stops every process from starting, naming it.


def _ttl_seconds(name: str, default: str) -> float:
    from django.core.exceptions import ImproperlyConfigured

    from config.durations import parse_duration

    text = env(name, default=default)
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None
    if seconds <= 0:
        raise ImproperlyConfigured(f"{name}: must be above zero, not {text!r}")
    return seconds


DELIVERY_DEFAULT_TTL_SECONDS = {
    channel: _ttl_seconds(f"{channel.upper()}_DEFAULT_TTL", default)
    for channel, default in (("email", "24h"), ("sms", "4h"), ("whatsapp", "4h"))
}

# --- Delivery workers (issue 4, issue 12) ------------------------------------------------------
# Provider calls one worker makes at a time (its pool); with provider latency L, a worker sends
# about this many / L per second.
DELIVERY_MAX_IN_FLIGHT = {channel: env.int(f"{channel.upper()}_MAX_IN_FLIGHT", default=32) for channel in CHANNELS}
# Records a worker takes per consume batch (read, logged and committed together), and how long a
# batch waits to fill up. The batch size also bounds how many messages can be left with an unknown
# outcome when a worker dies mid-send.
DELIVERY_BATCH_SIZE = {channel: env.int(f"{channel.upper()}_BATCH_SIZE", default=200) for channel in CHANNELS}
DELIVERY_BATCH_WAIT_MS = {channel: env.int(f"{channel.upper()}_BATCH_WAIT_MS", default=20) for channel in CHANNELS}
# A redelivered record whose attempt a dead worker had claimed: `resend` (at least once) or `hold`
# (at most once: status `unknown`, settled with `bin/manage dlq resolve`).
DELIVERY_ON_UNKNOWN_OUTCOME = {
    channel: env(f"{channel.upper()}_ON_UNKNOWN_OUTCOME", default="resend") for channel in CHANNELS
}
# The providers of SMS and WhatsApp, in order: SMS_PROVIDER and WHATSAPP_PROVIDER name them, separated
# by commas (`twilio,simulator`): `simulator` (the default), `twilio`, or a dotted path to a
# delivery.providers.Provider; email's come from EMAIL_URL (below). With more than one, the channel
# fails over from each to the next (delivery.failover). Kept as written: each channel app reads its
# own (sms_service.channel, …), and a list that does not parse stops every process at start-up
# (when the channel registers), naming the setting.
SMS_PROVIDER = env("SMS_PROVIDER", default="simulator")
WHATSAPP_PROVIDER = env("WHATSAPP_PROVIDER", default="simulator")
# A failing provider's circuit breaker (delivery.failover, only with several providers): it opens after
# this many transient failures in a row (slow-down answers and permanent ones about a recipient do not
# count), lets one probe call through after the cooldown, and doubles the cooldown (up to the maximum)
# while the probes fail. Read when a worker starts: a value that does not parse stops it.
DELIVERY_BREAKER = {
    channel: {
        "failures": env(f"{channel.upper()}_BREAKER_FAILURES", default="5"),
        "cooldown": env(f"{channel.upper()}_BREAKER_COOLDOWN", default="10s"),
        "max_cooldown": env(f"{channel.upper()}_BREAKER_MAX_COOLDOWN", default="5m"),
    }
    for channel in CHANNELS
}
# Status webhooks to clients (webhooks app, `bin/manage consume webhooks`).
INSTALLED_APPS += ["webhooks"]
# Loopback and private addresses as endpoints: for development only (production settings refuse them).
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=DEBUG)
# A receiver that fails transiently (timeout, connection error, 408, 429, 5xx) is retried after each delay
# in turn (or its Retry-After, up to the longest delay), for hours, then the event is dead-lettered on
# webhooks.out.dlq; any other failure (4xx, 3xx, a refused address) is dead-lettered at once.
WEBHOOKS_RETRY_DELAYS = env.list("WEBHOOKS_RETRY_DELAYS", default=["30s", "2m", "10m", "30m", "1h", "2h", "3h"])
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=len(WEBHOOKS_RETRY_DELAYS) + 1)
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
WEBHOOKS_MAX_IN_FLIGHT = env.int("WEBHOOKS_MAX_IN_FLIGHT", default=16)
# An endpoint whose every post failed for this long (a duration: 90s, 30m, 5d) is disabled until it
# is enabled again (POST /api/v1/webhooks/{id}/enable, or the admin); 5 days, as Svix and Stripe.
WEBHOOKS_DISABLE_AFTER = env("WEBHOOKS_DISABLE_AFTER", default="5d")
# An ESP through django-anymail: EMAIL_DELIVERY_BACKEND=anymail.backends.<esp>.EmailBackend and its
# settings as JSON, e.g. ANYMAIL='{"POSTMARK_SERVER_TOKEN": "…"}'. Its tracking webhooks
# (/api/v1/providers/anymail/<esp>/tracking/) take ANYMAIL_WEBHOOK_SECRET ("user:password") as basic auth;
# without it they answer 404 (router.provider_webhooks), and production settings refuse an ESP.
INSTALLED_APPS += ["anymail"]
ANYMAIL = {**env.json("ANYMAIL", default={}), "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", default="") or None}
# Twilio (SMS_PROVIDER / WHATSAPP_PROVIDER=twilio, delivery.twilio). TWILIO_API_BASE_URL stays empty
# for Twilio itself; tests point it at a local server that speaks Twilio's API. Without
# TWILIO_AUTH_TOKEN, Twilio's webhooks (/api/v1/providers/twilio/…) answer 404.
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_SMS_FROM = env("TWILIO_SMS_FROM", default="")
TWILIO_WHATSAPP_FROM = env("TWILIO_WHATSAPP_FROM", default="")
TWILIO_MESSAGING_SERVICE_SID = env("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_STATUS_CALLBACK_URL = env("TWILIO_STATUS_CALLBACK_URL", default="")
# The URL Twilio posts replies to (the number's messaging webhook): STOP suppresses the sender.
TWILIO_INBOUND_URL = env("TWILIO_INBOUND_URL", default="")
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="")
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=15.0)
# The Django email backend email deliveries go through (SMTP or an anymail backend drop in here);
# separate from EMAIL_BACKEND, which Django's own mails (password resets, admins) use.
# A real SMTP server: EMAIL_URL=smtp://user:password@host:25, smtp+tls://… (STARTTLS, 587) or
# smtp+ssl://… (465); several, separated by whitespace, are tried in order (failover). It makes SMTP the
# delivery backend, and the first one sets Django's EMAIL_HOST, EMAIL_PORT, … for Django's own mails.
EMAIL_URL = env("EMAIL_URL", default="")
EMAIL_PROVIDER = env("EMAIL_PROVIDER", default="email_service.providers.EmailBackendProvider")
_EMAIL_URLS = EMAIL_URL.split()
if _EMAIL_URLS:
    # A URL that does not parse is refused at start-up, naming EMAIL_URL (email_service.channel);
    # django-environ's own error here would not name it (nor should it stop the settings).
    with contextlib.suppress(ImproperlyConfigured, ValueError):
        globals().update(environ.Env.email_url_config(_EMAIL_URLS[0]))
# Seconds an SMTP connection may block (Django's default, None, would hang a worker on a dead server).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
EMAIL_DELIVERY_BACKEND = env(
    "EMAIL_DELIVERY_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if _EMAIL_URLS
    else "email_service.backends.SimulatedEmailBackend",
)
# The most calls (SMS/WhatsApp: segments) a channel's provider takes, across every instance of its
# worker together: `20/s`, `1200/min`; empty: no limit (the worker still slows down when the provider
# says so). With several providers (failover), one rate each in their order, or one that each gets.
# Kept as written; a value that does not parse stops every process at start-up, naming the setting
# (delivery.provider_lists.channel_rate_limits, when the channel registers).
DELIVERY_RATE_LIMITS = {channel: env(f"{channel.upper()}_RATE_LIMIT", default="") for channel in CHANNELS}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Communication Aggregator <no-reply@comms.local>")
# The simulated providers: latency per send and the rate of random transient failures (0..1).
DELIVERY_SIMULATOR = {
    channel: {
        "latency_ms": env.float(f"{channel.upper()}_SIMULATOR_LATENCY_MS", default=0.0),
        "failure_rate": env.float(f"{channel.upper()}_SIMULATOR_FAILURE_RATE", default=0.0),
        # Behave like a provider that honours idempotency keys (a repeated key sends nothing).
        "idempotent": env.bool(f"{channel.upper()}_SIMULATOR_IDEMPOTENT", default=False),
        # A rate cap like a real provider's (20/s, 1200/min; SMS/WhatsApp in segments), per worker
        # process: above it, ProviderThrottled. Parsed by delivery.simulator (a bad value stops the worker).
        "rate_limit": env(f"{channel.upper()}_SIMULATOR_RATE_LIMIT", default=""),
    }
    for channel in CHANNELS
}
# --- end delivery workers ----------------------------------------------------------------------

# --- Every Kafka consumer (messaging.consumption) ---------------------------------------------
# Tries of a failing step on one record before it is dead-lettered with the error.
CONSUMER_MAX_TRIES = env.int("CONSUMER_MAX_TRIES", default=3)
# Backoff ceiling while a dependency (database, Kafka, Elasticsearch) is down.
CONSUMER_MAX_BACKOFF_SECONDS = env.float("CONSUMER_MAX_BACKOFF_SECONDS", default=30.0)
# More dead letters than this in a row stops the consumer loudly (0: no limit).
CONSUMER_MAX_CONSECUTIVE_DEAD_LETTERS = env.int("CONSUMER_MAX_CONSECUTIVE_DEAD_LETTERS", default=100)
# A consumer that held no partition, or was no group member, this long while its topics have
# partitions is closed and rebuilt (messaging/consumption/watchdog.py): librdkafka can sit forever
# without a coordinator after a broker came back. Keep it well above KAFKA_SESSION_TIMEOUT_MS, which
# an ordinary rebalance may take; 0 turns the watchdog off.
CONSUMER_REJOIN_TIMEOUT = env.float("CONSUMER_REJOIN_TIMEOUT", default=60.0)

# --- Elasticsearch ---------------------------------------------------------------
# One node's URL, or a cluster's nodes separated by spaces or commas (http://es1:9200,http://es2:9200):
# every client goes round them and tries a request on the next node when one does not answer
# (logging_service.connection). Checked here, so a value that does not parse stops every process.
ELASTICSEARCH_URL = env("ELASTICSEARCH_URL", default="http://127.0.0.1:9200")


def _check_elasticsearch_url(value: str) -> None:
    from config.search_hosts import elasticsearch_hosts

    try:
        elasticsearch_hosts(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"ELASTICSEARCH_URL: {error}") from None


_check_elasticsearch_url(ELASTICSEARCH_URL)
LOG_INDEX_PREFIX = env("LOG_INDEX_PREFIX", default="comms-logs")

# --- Kibana (bin/manage kibana_setup) ------------------------------------------------
# Base URL of Kibana, e.g. http://127.0.0.1:5601; empty = no Kibana, kibana_setup has nothing to do.
KIBANA_URL = env("KIBANA_URL", default="")

# --- API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Communication Aggregator API",
    "DESCRIPTION": "Accepts messages and delivers them over email, SMS and WhatsApp through Kafka.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}
# /metrics on the API's port: with METRICS_TOKEN set, only to `Authorization: Bearer <token>`
# (router.health). Production settings require it: without one they serve no /metrics (404).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_TOKEN_REQUIRED = False

# --- Router API (issue 3): API keys, throttling, publishing, outbox relay -------------------
INSTALLED_APPS += ["rest_framework_api_key"]
SPECTACULAR_SETTINGS["COMPONENT_SPLIT_REQUEST"] = True
SPECTACULAR_SETTINGS.update(
    {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
)
# Issue 7: each channel's request schema names only its own channel (one `oneOf` branch per request).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "ChannelEnum": "router.models.CHANNEL_CHOICES",
    "EmailChannelEnum": [("email", "Email")],
    "SmsChannelEnum": [("sms", "Sms")],
    "WhatsAppChannelEnum": [("whatsapp", "Whatsapp")],
    "MessageStatusEnum": "router.schema.MESSAGE_STATUS_CHOICES",
}
# Throttle counters live in this cache; point CACHE_URL at Redis/Memcached to share them across workers.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
ROUTER_THROTTLE_RATE = env("ROUTER_THROTTLE_RATE", default="6000/min")
# Failed API-key attempts per client address; beyond it, 429 with Retry-After (router.rate_limits).
ROUTER_AUTH_FAILURE_RATE = env("ROUTER_AUTH_FAILURE_RATE", default="20/min")
# How long a request waits for Kafka's acknowledgement of its record (a 202 follows it, by design:
# router.accept.durability) before committing the record to the outbox for the relay instead; keep it well
# below ROUTER_RELAY_GRACE_SECONDS.
ROUTER_PUBLISH_TIMEOUT_SECONDS = env.float("ROUTER_PUBLISH_TIMEOUT_SECONDS", default=2.0)
# router.lean: valid `POST /api/v1/messages` and `/batch` answered before Django (config.wsgi), read per
# request (off: every request through Django's handler and the views).
ROUTER_FAST_ACCEPT = env.bool("ROUTER_FAST_ACCEPT", default=True)
ROUTER_MAX_REQUEST_BYTES = env.int("ROUTER_MAX_REQUEST_BYTES", default=1024 * 1024)
ROUTER_MAX_BATCH_REQUEST_BYTES = env.int("ROUTER_MAX_BATCH_REQUEST_BYTES", default=32 * 1024 * 1024)
# Seconds a process trusts an API key it verified; revocation reaches other processes within this
# (the revoking process forgets at once). 0 verifies against the database on every request.
ROUTER_API_KEY_CACHE_SECONDS = env.float("ROUTER_API_KEY_CACHE_SECONDS", default=5.0)
ROUTER_IDEMPOTENCY_TTL_HOURS = env.int("ROUTER_IDEMPOTENCY_TTL_HOURS", default=24)
# The relay only takes rows older than the grace period, so it does not race the API's own publish.
ROUTER_RELAY_GRACE_SECONDS = env.float("ROUTER_RELAY_GRACE_SECONDS", default=10.0)
# The relay's longest sleep: it bounds how late a scheduled message that is due sooner than any the
# relay knew of (accepted while it slept) is published.
ROUTER_RELAY_INTERVAL_SECONDS = env.float("ROUTER_RELAY_INTERVAL_SECONDS", default=0.5)
ROUTER_RELAY_BATCH_SIZE = env.int("ROUTER_RELAY_BATCH_SIZE", default=500)
# --- end Router API ---------------------------------------------------------------------------

# --- Retention (bin/manage purge; operations.retention) -----------------------------------------
RETENTION_DAYS = {
    "outbox": env.int("RETENTION_OUTBOX_DAYS", default=7),  # published entries: they hold the whole message
    "idempotency": env.int("RETENTION_IDEMPOTENCY_DAYS", default=2),  # never before the key's TTL ends
    "deliveries": env.int("RETENTION_DELIVERIES_DAYS", default=30),  # final ones, with their attempts
    "simulator_calls": env.int("RETENTION_SIMULATOR_CALLS_DAYS", default=30),
}
# Daily log indices older than this are deleted by `purge`, by their date in the name (no ILM policy).
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=30)

# Where `bin/run` keeps the development API key it prints (created on the first run).
DEV_API_KEY_FILE = env("DEV_API_KEY_FILE", default="") or str(VAR_DIR / "dev-api-key")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # One line per HTTP request to Elasticsearch is noise at INFO.
    "loggers": {"elastic_transport": {"level": "WARNING"}},
}

# --- Log events: privacy (issue 7) -----------------------------------------------------------
# Recipients in log events are masked (`u***@example.com`, `+4477*****123`); false logs them whole.
LOG_MASK_RECIPIENTS = env.bool("LOG_MASK_RECIPIENTS", default=True)

# --- Log indexer (logging_service) -----------------------------------------------------------
INDEXER_GROUP_ID = env("INDEXER_GROUP_ID", default="logging_service")
# A bulk request goes out at this many events, or after this long, whichever comes first.
INDEXER_BATCH_SIZE = env.int("INDEXER_BATCH_SIZE", default=2000)
INDEXER_BATCH_WAIT_MS = env.int("INDEXER_BATCH_WAIT_MS", default=200)
# A bulk request carries at most this many bytes (a batch of large events goes in several requests).
INDEXER_MAX_BULK_BYTES = env.int("INDEXER_MAX_BULK_BYTES", default=10 * 1024 * 1024)
# Backoff while Elasticsearch is down or rejecting (429): doubles up to this ceiling.
INDEXER_MAX_BACKOFF_SECONDS = env.float("INDEXER_MAX_BACKOFF_SECONDS", default=30.0)
# How long the indexer may go without polling Kafka (an ES outage) before it leaves its group.
INDEXER_MAX_POLL_INTERVAL_MS = env.int("INDEXER_MAX_POLL_INTERVAL_MS", default=1_800_000)
# How often a regex subscription looks for new logs.* topics.
INDEXER_TOPIC_REFRESH_MS = env.int("INDEXER_TOPIC_REFRESH_MS", default=5000)
