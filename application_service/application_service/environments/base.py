"""Settings shared by every environment; each difference comes from an environment variable.

An environment module loads its dotenv files first (application_service.environments.load),
then imports everything from here and overrides what differs. Values are typed by environs: a
malformed one (DEBUG=maybe, a port that is not a number) stops the start with its name.
"""

from __future__ import annotations

import os
import re
import ssl
import tempfile
from datetime import timedelta
from pathlib import Path

from csp.constants import NONCE, NONE, SELF
from environs import Env, validate

from application_service import database, sentry
from application_service.environments import ConfigurationError, redis_url

env = Env(expand_vars=False)

BASE_DIR = Path(__file__).resolve().parents[2]  # application_service/ (beside manage.py)

# What the service reports as its version (the probes; the deploy's gate reads it): the image's
# tag, which `invoke build` bakes in.
APP_VERSION = env.str("APP_VERSION", "unknown")
# /readyz runs its checks at most once per this many seconds in each process (0: on every call).
READINESS_CACHE_SECONDS = env.float("READINESS_CACHE_SECONDS", 5)

DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", "")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # API tokens for programs: stored as hashes, one per client, each with an expiry (REST_KNOX).
    "knox",
    # Budgets of failed sign-ins per address and per username (AXES_*, accounts/login_attempts.py).
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: no CDN, works offline
    "csp",  # the Content-Security-Policy header (CONTENT_SECURITY_POLICY) and its checks
    # lintmigrations, which `invoke migrate --lint` runs before migrating (it also wraps
    # makemigrations: linting only with --lint).
    "django_migration_linter",
    # Carries a request's id into the jobs it enqueues (DJANGO_STRUCTLOG_*, application_service/logs.py).
    "django_structlog",
    # The platform's app: the user model, the login page, API tokens.
    "accounts",
    # The sample app (the counter page, the messages API and their jobs): delete it, its line
    # here and its lines in urls.py, and the service still runs.
    "application",
]

AUTH_USER_MODEL = "accounts.User"

# `invoke migrate --lint` passes these historical migrations of django-axes and django-rest-knox:
# they drop and alter those apps' own columns, on tables that no version of this service read
# before the apps arrived (each arrives with its whole history). Their later migrations are linted.
MIGRATION_LINTER_OPTIONS = {
    "ignore_name": [
        "0002_auto_20151217_2044", "0005_remove_accessattempt_trusted", "0006_remove_accesslog_trusted",
        "0007_alter_accessattempt_unique_together", "0009_add_session_hash",  # axes
        "0002_auto_20150916_1425", "0003_auto_20150916_1526", "0006_auto_20160818_0932",
        "0007_auto_20190111_0542", "0008_remove_authtoken_salt", "0009_extend_authtoken_field",  # knox
    ],
}

MIDDLEWARE = [
    # First: every request, probes and refused ones too, gets its id and its one log line.
    "application_service.logs.RequestLogMiddleware",
    # Then probes answer, before ALLOWED_HOSTS validation and the HTTPS redirect.
    "application_service.health.HealthCheckMiddleware",
    # Scrapes of METRICS_PATH answer here too (a scraper reaches an instance by its address); every
    # other request is counted and timed by view, method and status (README, "Metrics").
    "application_service.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A view that cannot reach the database answers 503 with Retry-After, not a 500 and a traceback.
    "application_service.unavailable.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: a sign-in page answering a locked-out client becomes a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "application_service.urls"
WSGI_APPLICATION = "application_service.wsgi.application"

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

# DATABASE_URL, or its parts (DB_HOST, DB_PORT, DB_NAME, DB_CREDENTIALS: how AWS hands them over).
DATABASE_URL = database.url_from_environment(os.environ) or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": database.parse(
        DATABASE_URL,
        conn_max_age=env.int("DB_CONN_MAX_AGE", 60),
        connect_timeout=env.int("DB_CONNECT_TIMEOUT", 5),
        # A hung database fails a request within this, before gunicorn's timeout kills the worker.
        read_timeout=env.int("DB_READ_TIMEOUT", 10),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = redis_url(os.environ)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Several services (or test runs) can share one Redis under their own prefixes.
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "cache"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                # A Redis outage degrades the cache to misses; it never fails a request.
                "IGNORE_EXCEPTIONS": True,
                # JSON, not django-redis's default pickle: whoever can write to Redis must not be
                # able to make the service run code by planting a value it reads back.
                "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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
# Set where collectstatic runs (production); elsewhere files come from the apps (finders).
STATIC_ROOT = None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Outside production static files are served from the apps' folders without collectstatic.
WHITENOISE_USE_FINDERS = True

# Every process's lines, the service's (structlog) and every library's, through one handler: one
# JSON object per line (json), or readable text (text: local). application_service/logs.py.
LOG_FORMAT = env.str("LOG_FORMAT", "json", validate=validate.OneOf(["json", "text"]))
LOGGING_CONFIG = "application_service.logs.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "application_service.logs.formatter", "log_format": LOG_FORMAT}},
    # One line per request: Django's own records about a request are folded into it.
    "filters": {"one_line_per_request": {"()": "application_service.logs.OneLinePerRequest"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured",
                             "filters": ["one_line_per_request"]}},
    "root": {"handlers": ["console"], "level": env.log_level("LOG_LEVEL", "INFO")},
    # django-axes writes a line for every failed sign-in and lockout: the request's own line says
    # it instead ("reason": accounts/login_attempts.py), so only its errors are kept. Django's own
    # handlers go, its loggers' included (runserver's request lines too): each record reaches the
    # root's handler once, where "Watching for file changes" printed twice. No ADMINS are set, so
    # its mail handler sent nothing. gunicorn's handler goes in its workers too: their lines come
    # out in the same format.
    "loggers": {"axes": {"level": "ERROR"}, "django": {"level": "INFO"},
                "gunicorn.error": {"propagate": True}},
}
# Jobs a request enqueues carry its id (django-structlog's Celery receivers; logs.follow_jobs).
DJANGO_STRUCTLOG_CELERY_ENABLED = True

# Errors to Sentry when SENTRY_DSN is set; without it nothing is loaded (application_service/sentry.py).
# The environment is the settings module's name (local, ci, production).
SENTRY_DSN = env.str("SENTRY_DSN", "")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", 0.0, validate=validate.Range(min=0, max=1))
sentry.init(dsn=SENTRY_DSN, release=APP_VERSION,
            environment=os.environ.get("DJANGO_SETTINGS_MODULE", "").rpartition(".")[2]
            or os.environ.get("APP_ENV", "unknown"),
            traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)

# What the service shows browsers and strangers (README, "Security").
# Django's error report hides settings named like KEY or PASS, not URLs: this filter also hides
# DATABASE_URL, REDIS_URL, the broker's, and any value holding a password in a URL.
DEFAULT_EXCEPTION_REPORTER_FILTER = "application_service.reporting.SafeExceptionReporterFilter"
# The admin's address: a path of the team's choosing keeps it out of the scanners' first guess.
ADMIN_URL = env.str("ADMIN_URL", "admin/").strip("/") + "/"
if not re.fullmatch(r"[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*/", ADMIN_URL):
    raise ConfigurationError(f"ADMIN_URL={ADMIN_URL!r} is not a path: write it as admin/ or staff-7f3a/.")
# /api/schema/ and /api/docs/ for anyone (true) or for signed-in users only (false); production
# says false unless set.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", True)
# Only this service's own files run, load and style its pages: inline code needs the request's
# nonce (request.csp_nonce in a template); no page may be framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],  # Swagger UI's and the admin's icons are data: URLs
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
X_FRAME_OPTIONS = "DENY"  # frame-ancestors' elder, for browsers without CSP
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"  # other sites learn nothing of our addresses

# Browser login (session + CSRF): Django's auth views; API clients use tokens instead.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/api/docs/"
LOGOUT_REDIRECT_URL = "login"

AT_LEAST_ONE = validate.Range(min=1)

# Password guessing. Every way to try a password (the login page, the admin's login, POST
# /api/v1/auth/token/) goes through these backends: django-axes' first refuses a locked-out client
# before any password is hashed. Failures within the cool-off count against a budget per client
# address (as the API's throttles take it; an IPv6 /64 is one address) and one per username, kept
# in the database, so that Redis being away cannot open them. A successful sign-in clears its
# username's failures. (THROTTLE_AUTH_RATE, below, is a cheaper rate limit in front.)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURES_PER_USERNAME = env.int("LOGIN_FAILURES_PER_USERNAME", 5, validate=AT_LEAST_ONE)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", 20, validate=AT_LEAST_ONE)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOL_OFF_MINUTES", 15, validate=AT_LEAST_ONE))
AXES_HANDLER = "accounts.login_attempts.LoginAttemptsHandler"  # the database's, with the two limits
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # two budgets, not one per pair
# Axes has one limit for every budget; the handler applies each budget's own.
AXES_FAILURE_LIMIT = max(LOGIN_FAILURES_PER_USERNAME, LOGIN_FAILURES_PER_ADDRESS)
AXES_CLIENT_IP_CALLABLE = "application_service.api.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.login_attempts.lockout_response"  # 429, Retry-After, no 500
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the failure that exhausted a budget: attempts while locked out are
# refused without a write, and Retry-After is the true wait.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # no row per successful sign-in (a table nothing would clear)

# API tokens (django-rest-knox): the database holds a hash of each key, never the key.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", 30, validate=AT_LEAST_ONE)),
    # Every request with a token reads all of its user's tokens: keep them few.
    "TOKEN_LIMIT_PER_USER": env.int("API_TOKENS_PER_USER", 10, validate=AT_LEAST_ONE),
    "AUTO_REFRESH": False,
}

# Request bodies above this are answered 413 (the API's largest body, a message, is ~3 KiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", 64 * 1024)


def env_rate(name: str, default: str) -> str:
    """A throttle rate such as 100/minute, checked at startup rather than on the first request."""
    rate = env.str(name, "") or default
    count, _, period = rate.partition("/")
    if not (count.isdigit() and period[:1] in {"s", "m", "h", "d"}):
        raise ConfigurationError(f"{name}={rate!r} is not a rate: write it as 100/minute (s, m, h or d).")
    return rate


# The API (its platform classes are in application_service/api). DRF's defaults are permissive;
# these make a new endpoint safe unless it says otherwise: authentication required, throttled,
# JSON only, capped pages.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous API call gets 401 with WWW-Authenticate: Token.
        "application_service.api.authentication.TokenAuthentication",
        "application_service.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "application_service.api.throttling.AnonThrottle",
        "application_service.api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("THROTTLE_ANON_RATE", "120/minute"),
        "user": env_rate("THROTTLE_USER_RATE", "1200/minute"),
        "auth": env_rate("THROTTLE_AUTH_RATE", "10/minute"),
    },
    # Throttles key anonymous clients on their address: REMOTE_ADDR, or the address the
    # NUM_PROXIES-th proxy from the right saw, so that a forged X-Forwarded-For changes nothing.
    "NUM_PROXIES": env.int("NUM_PROXIES", 0),
    "DEFAULT_PAGINATION_CLASS": "application_service.api.pagination.CursorPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_PARSER_CLASSES": ["application_service.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "application_service.api.negotiation.ContentNegotiation",
    "DEFAULT_METADATA_CLASS": None,  # OPTIONS answers 405 instead of describing the endpoint
    "URL_FORMAT_OVERRIDE": None,
    "EXCEPTION_HANDLER": "application_service.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "application_service.api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Little Service API",
    "DESCRIPTION": (
        "Version 1 of the Little Service API. Authenticate with a token "
        "(`Authorization: Token <key>`, from POST /api/v1/auth/token/) or, in a browser, with "
        "the session of /accounts/login/ plus the X-CSRFToken header. Every error has one shape: "
        "`{\"code\": ..., \"message\": ..., \"fields\": {...}}` (fields only for validation errors)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "application_service.api.schema.closed_inputs",
    ],
    # validatorUrl None: Swagger UI would otherwise send the schema to an online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "displayOperationId": True, "validatorUrl": None},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: Redis as broker and result store when REDIS_URL is set (ci, production); otherwise
# an embedded broker on the file system, so `invoke dev` still runs a real worker process.
CELERY_FILESYSTEM_DIR = env.path("CELERY_FILESYSTEM_DIR", BASE_DIR / "var" / "celery")
# A message is handed to another worker when not acknowledged within this time; it must
# outlast the longest job (the hard time limit), or a slow job runs twice.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = max(1, CELERY_TASK_TIME_LIMIT - env.int("CELERY_SOFT_LIMIT_MARGIN", 30))
if CELERY_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ConfigurationError(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT}s) must be longer than "
        f"CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT}s), or a slow job is delivered twice."
    )
# Publishing must give up within seconds when the broker hangs (with Celery's defaults a
# broker that accepts connections but never answers blocks .delay() forever); the message
# then stays pending and the periodic sweep sends it again.
CELERY_BROKER_TIMEOUT = env.int("CELERY_BROKER_TIMEOUT", 2)
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_BROKER_TIMEOUT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker reconnects to its broker however long it is away: with Celery's default (100 tries,
# about an hour) it exits after a long outage, and compose or Beanstalk would have to restart it.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 0.5}
# Separates the queues of several services (or test runs) sharing one Redis.
CELERY_KEY_PREFIX = env.str("CELERY_KEY_PREFIX", "")
# Beat looks at its schedule (and renews its lock) at least this often, in seconds.
CELERY_BEAT_MAX_LOOP_INTERVAL = env.float("CELERY_BEAT_MAX_LOOP_INTERVAL", 5)
# Beat touches this file at every tick; `invoke celery.health --beat` fails when it goes stale.
CELERY_BEAT_HEARTBEAT_FILE = env.path("BEAT_HEARTBEAT_FILE",
                                      Path(tempfile.gettempdir()) / "little-service-beat.heartbeat")
if REDIS_URL:
    # The broker may live apart from the cache (CELERY_BROKER_URL); by default both use REDIS_URL.
    CELERY_BROKER_URL = redis_url(os.environ, "CELERY_BROKER_URL") or REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # How often a worker looks for messages whose worker died (unacknowledged past the
        # visibility timeout): every interval x throttle seconds.
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
        "socket_timeout": CELERY_BROKER_TIMEOUT,
        "socket_connect_timeout": CELERY_BROKER_TIMEOUT,
        "global_keyprefix": CELERY_KEY_PREFIX,
    }
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
        "global_keyprefix": CELERY_KEY_PREFIX,
    }
    CELERY_REDIS_SOCKET_TIMEOUT = CELERY_BROKER_TIMEOUT
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_BROKER_TIMEOUT
    CELERY_REDIS_BACKEND_HEALTH_CHECK_INTERVAL = 30
    # One beat across every host: RedBeat keeps the schedule in Redis behind a lock; our
    # subclass keeps beat alive while Redis is away (application_service/beat.py).
    CELERY_BEAT_SCHEDULER = "application_service.beat.RedBeatScheduler"
    # RedBeat's own names, without CELERY_: under that namespace it misses its URL and client
    # options (it takes the broker's URL, gives its client no timeouts, and warns at each start).
    REDBEAT_REDIS_URL = REDIS_URL
    REDBEAT_REDIS_OPTIONS = {"socket_timeout": CELERY_BROKER_TIMEOUT,
                             "socket_connect_timeout": CELERY_BROKER_TIMEOUT}
    REDBEAT_KEY_PREFIX = f"{CELERY_KEY_PREFIX}redbeat"
    REDBEAT_LOCK_TIMEOUT = env.int("CELERY_BEAT_LOCK_TIMEOUT", 30)
    if REDBEAT_LOCK_TIMEOUT <= 2 * CELERY_BEAT_MAX_LOOP_INTERVAL:
        raise ConfigurationError(
            f"CELERY_BEAT_LOCK_TIMEOUT ({REDBEAT_LOCK_TIMEOUT}s) must be longer than twice "
            f"CELERY_BEAT_MAX_LOOP_INTERVAL ({CELERY_BEAT_MAX_LOOP_INTERVAL:g}s), or beat's lock "
            f"expires between two ticks and a second beat takes over."
        )
    # rediss:// (TLS, as ElastiCache's in-transit encryption requires): the broker, the result
    # store and RedBeat verify the server's certificate, as the cache (redis-py) does by default.
    if CELERY_BROKER_URL.startswith("rediss://"):
        CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    if REDIS_URL.startswith("rediss://"):
        CELERY_REDIS_BACKEND_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
        REDBEAT_REDIS_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_FILESYSTEM_DIR / 'results'}"
    for folder in ("queue", "control", "results"):
        (CELERY_FILESYSTEM_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# How often the queues' depth is logged (the platform's job below; README, "Metrics").
QUEUE_DEPTH_SECONDS = env.int("QUEUE_DEPTH_SECONDS", 60, validate=AT_LEAST_ONE)
# Periodic jobs: the platform's here; each app adds its own to the beat schedule (see
# application/apps.py).
CELERY_BEAT_SCHEDULE = {
    # Sessions live in the database (Django's default); expired ones are deleted once an hour.
    "sessions-clear-expired": {
        "task": "accounts.jobs.sessions_clear_expired",
        "schedule": env.int("SESSIONS_CLEAR_SECONDS", 3600),
    },
    # One `queue_depth` log line per queue: the AWS template's backlog alarm reads them. A report
    # that waited in a backed-up queue for longer than its period is stale: it expires unrun.
    "queues-log-depth": {
        "task": "application_service.jobs.queues_log_depth",
        "schedule": QUEUE_DEPTH_SECONDS,
        "options": {"expires": QUEUE_DEPTH_SECONDS},
    },
}

# The sample app: how often beat sweeps messages left pending, and how old they must be.
MESSAGE_SWEEP_SECONDS = env.int("MESSAGE_SWEEP_SECONDS", 60)
MESSAGE_SWEEP_GRACE_SECONDS = env.int("MESSAGE_SWEEP_GRACE_SECONDS", 30)

# Metrics (README, "Metrics"): Prometheus' text format at METRICS_PATH on the web, and from a
# Celery worker on METRICS_ADDRESS:METRICS_PORT (unset: not served). With METRICS_TOKEN set, a
# scrape must send `Authorization: Bearer <token>`; without one they are served only where
# METRICS_PUBLIC is true (env/local.env, env/ci.env), and elsewhere answered 404.
METRICS_PATH = "/" + env.str("METRICS_PATH", "/metrics").strip("/")
if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", METRICS_PATH):
    raise ConfigurationError(f"METRICS_PATH={METRICS_PATH!r} is not a path of its own: write it as /metrics.")
METRICS_TOKEN = env.str("METRICS_TOKEN", "")
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", False)
METRICS_PORT = env.int("METRICS_PORT", None, validate=validate.Range(min=1, max=65535))
METRICS_ADDRESS = env.str("METRICS_ADDRESS", "127.0.0.1")
