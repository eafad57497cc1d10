"""Logs: one JSON object per line (LOG_FORMAT=json: ci, production) or readable text (local).

structlog renders every record, the service's own (`structlog.get_logger(__name__).info("event",
key=value)`) and the standard library's (Django, Celery, gunicorn, any library) alike, through one
formatter on the root handler (settings.LOGGING): "time" (ISO 8601, UTC), "level", "logger",
"message", the request's id, then each field. `scrub` keeps secrets out of every line, and out of
what goes to Sentry (application_service/sentry.py).

Requests: RequestLogMiddleware gives each request an id (X-Request-ID when valid, else the load
balancer's X-Amzn-Trace-Id, else a new one), returns it in X-Request-ID and writes one line per
request, "request_finished". Django's own records about a request ("Not Found: /x", "Invalid
HTTP_HOST header", the traceback of a 500, runserver's request line) are folded into that line or
left out, so a rejected request is one line. Jobs: django-structlog carries the id in the headers
of every job a request enqueues and binds it in the worker's lines of that job; a job that no
request enqueued (beat's) gets an id of its own.
"""

from __future__ import annotations

import logging
import logging.config
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from celery.signals import setup_logging, task_prerun
from django.http import HttpRequest, HttpResponse
from django_structlog.celery import signals as job_signals
from django_structlog.celery.receivers import CeleryReceiver

from application_service.database import redact
from application_service.reporting import URL_WITH_PASSWORD

REQUEST_ID_HEADER = "X-Request-ID"
TRACE_ID_HEADER = "X-Amzn-Trace-Id"  # the AWS load balancer's: Root=1-67891233-abcdef012345678912345678
# An incoming id is taken as it is only when it is short and plain: it is written into every line.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:;=/+-]{1,200}")
# What travels with a job from the request that enqueued it (django-structlog sends everything
# bound; a request's other fields stay with the request, whose line has the user's id).
JOB_CONTEXT = ("request_id", "user_id")

REQUESTS_LOGGER = "application_service.requests"
requests_logger = structlog.get_logger(REQUESTS_LOGGER)


# Scrubbing: one function for the log lines and for Sentry's events.

FILTERED = "[Filtered]"
# Names whose values are secrets, wherever they appear: a field, a header, a cookie, a form field,
# a query parameter, a traceback's variable. Narrower than Django's hidden settings (KEY, PASS,
# URL): routing_key, passed or url carry nothing secret, and URLs lose their passwords below.
SECRET_NAME = (r"pass(?:w|phrase)|pwd|secret|token|authoriz|cookie|api[-_]?key|private[-_]?key|dsn"
               r"|credential|signature|session[-_]?(?:id|key)|csrf")
SECRET_NAMED = re.compile(SECRET_NAME, re.IGNORECASE)
# "Token abc..." or "Bearer abc...": an Authorization header's credentials quoted in a text.
CREDENTIALS = re.compile(r"\b(Token|Bearer|Basic|Digest) [A-Za-z0-9._~+/=-]{8,}")
# name=value, name: value, 'name': 'value', "name": ["value"] (a query string, a header, a dict's or
# a QueryDict's repr) where the name is a secret's.
SECRET_PAIR = re.compile(
    rf"""(?P<name>[\w-]*(?:{SECRET_NAME})[\w-]*['"]?\s*[:=]\s*+(?!\[?\s*{re.escape(FILTERED)})\[?\s*+)"""
    r"""(?P<value>(?:(?:Token|Bearer|Basic|Digest) )?(?:'[^']*'|"[^"]*"|[^\s'"&,;\]})]+))""",
    re.IGNORECASE,
)
# Source lines in Sentry's stack frames: code, not data (password=None in a signature stays).
SOURCE_KEYS = {"pre_context", "context_line", "post_context"}


def scrub_text(text: str) -> str:
    """`text` without URL passwords, Authorization credentials and secret-named values."""
    text = URL_WITH_PASSWORD.sub(lambda match: redact(match.group(0)), text)
    text = SECRET_PAIR.sub(rf"\g<name>{FILTERED}", text)
    return CREDENTIALS.sub(rf"\1 {FILTERED}", text)


def scrub(value: Any, key: Any = "") -> Any:
    """`value` with every secret replaced by [Filtered]: the value of a secret-named key, whatever
    it holds, and secrets inside texts (scrub_text), through dicts, lists and tuples."""
    if isinstance(key, str) and SECRET_NAMED.search(key):
        return FILTERED
    if isinstance(value, str):
        return value if key in SOURCE_KEYS else scrub_text(value)
    if isinstance(value, dict):
        return {name: scrub(item, name) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(item) for item in value)
    return value


def scrub_processor(logger: Any, method_name: str, event_dict: dict) -> dict:
    return scrub(event_dict)


# Formatting.

LEADING_KEYS = ("time", "level", "logger", "message", "request_id")


def lead_with_the_basics(logger: Any, method_name: str, event_dict: dict) -> dict:
    """The keys every line has first, for the eye; the fields after them."""
    return {**{key: event_dict.pop(key) for key in LEADING_KEYS if key in event_dict}, **event_dict}


# What both the service's records and the standard library's ("foreign") ones go through.
SHARED_PROCESSORS: list[Callable] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
]


def formatter(log_format: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The root handler's formatter (settings.LOGGING), and gunicorn's (GunicornLogger)."""
    if log_format == "text":
        renderers = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), timestamp_key="time")]
    else:
        renderers = [structlog.processors.EventRenamer("message"), lead_with_the_basics,
                     structlog.processors.JSONRenderer()]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, scrub_processor, *renderers],
    )


def configure(config: dict) -> None:
    """Apply settings.LOGGING, and send structlog's records through it (Django's LOGGING_CONFIG)."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)  # a library's warnings are lines like any other (py.warnings)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


# One line per request.

def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_for(request: HttpRequest) -> str:
    """A valid X-Request-ID, else a valid X-Amzn-Trace-Id, else a new id: never the raw header."""
    for header in (REQUEST_ID_HEADER, TRACE_ID_HEADER):
        value = request.headers.get(header, "")
        if VALID_REQUEST_ID.fullmatch(value):
            return value
    return new_request_id()


LOG_FIELDS_KEY = "application_service.log_fields"


def request_fields(request: HttpRequest) -> dict:
    """Fields for the request's request_finished line, beyond its own: Django's records about the
    request add theirs (OneLinePerRequest); code that refuses a request may add its reason here
    rather than write a second line."""
    # Kept in the WSGI environ (META), which a DRF Request shares with its Django request: code
    # handed either one (django-axes gets DRF's at the token endpoint) adds to the same line.
    return request.META.setdefault(LOG_FIELDS_KEY, {})


def user_id_of(request: HttpRequest) -> Any:
    """The signed-in user's id; None when anonymous, or when no user could be read (the request was
    refused before authentication, or the database is away: the line must not fail the answer)."""
    user = getattr(request, "user", None)
    try:
        return user.pk if user is not None and user.is_authenticated else None
    except Exception:  # the session or the user's row could not be read
        return None


def level_of(status: int) -> int:
    if status >= 500:
        return logging.ERROR
    return logging.WARNING if status >= 400 else logging.INFO


class RequestLogMiddleware:
    """First in MIDDLEWARE, so that every request, probes and refused ones included, has an id.

    Probes answered 200 are not written (a load balancer asks every few seconds); any other answer
    of theirs is.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from application_service.health import LIVENESS_PATHS, READINESS_PATHS

        self.get_response = get_response
        self.probe_paths = LIVENESS_PATHS | READINESS_PATHS

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_for(request)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if not (response.status_code == 200 and request.path in self.probe_paths):
                requests_logger.log(
                    level_of(response.status_code), "request_finished", user_id=user_id_of(request),
                    method=request.method, path=request.path, status=response.status_code,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                    **request_fields(request),
                )
            return response
        finally:
            structlog.contextvars.clear_contextvars()


# Django's loggers, django.request: "Not Found: /x" and "Internal Server Error: /x" with its
# traceback; django.security.*: "Invalid HTTP_HOST header ...", "Forbidden (CSRF token missing.)".
# django.server: runserver's request line (http.server's request format).
SECURITY_LOGGER = "django.security"
RUNSERVER_REQUEST_LINE = '"%s" %s %s'


class OneLinePerRequest(logging.Filter):
    """Leaves out the records that repeat a request's line (the root handler's filter): a security
    record's message becomes that line's "reason", a 500's traceback its "exception"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.server":
            return record.msg != RUNSERVER_REQUEST_LINE
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            return True
        if record.name.startswith(SECURITY_LOGGER):
            request_fields(request).setdefault("reason", record.getMessage())
            return False
        if record.name == "django.request":
            if record.exc_info and getattr(record, "status_code", 0) >= 500:
                request_fields(request).setdefault("exc_info", record.exc_info)
            return False
        return True


# Jobs.

job_receiver = CeleryReceiver()


def keep_job_context(context: dict, **kwargs: Any) -> None:
    """What a job's message carries from its request: the ids, nothing else that was bound."""
    kept = {key: context[key] for key in JOB_CONTEXT if key in context}
    context.clear()
    context.update(kept)


def bind_job_request_id(**kwargs: Any) -> None:
    """A job that no request enqueued (beat's, a shell's) has an id of its own for its lines, which
    the jobs it enqueues carry on."""
    if "request_id" not in structlog.contextvars.get_contextvars():
        structlog.contextvars.bind_contextvars(request_id=new_request_id())


def configure_celery_logging(loglevel: int | str | None = None, **kwargs: Any) -> None:
    """Celery's own handlers and formats left out (receiving setup_logging tells it so): the
    worker's and beat's lines go through settings.LOGGING as the web's do. --loglevel still sets
    the level."""
    from django.conf import settings

    configure(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


def follow_jobs() -> None:
    """Connect the Celery signals (application_service.celery). The publishing side, the request's
    ids into each message's headers, is django-structlog's (DJANGO_STRUCTLOG_CELERY_ENABLED);
    binding them in the worker is its task_prerun receiver alone: its other receivers would repeat
    Celery's own lines ("succeeded", "raised unexpected")."""
    setup_logging.connect(configure_celery_logging, weak=False)
    task_prerun.connect(job_receiver.receiver_task_prerun, weak=False)
    job_signals.modify_context_before_task_publish.connect(keep_job_context, weak=False)
    job_signals.bind_extra_task_metadata.connect(bind_job_request_id, weak=False)


# gunicorn.

def gunicorn_logger_class():
    """GunicornLogger, made on first use: gunicorn is a POSIX-only import, and this module loads
    wherever the settings do."""
    from gunicorn.glogging import Logger

    class GunicornLogger(Logger):
        """gunicorn's own lines (the arbiter's: starting, booting and timed-out workers) in the
        service's format; no access log: each request's request_finished line replaces it."""

        access_log_enabled = False

        def setup(self, cfg) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(formatter(os.environ.get("LOG_FORMAT") or "json"))

        def access(self, resp, req, environ, request_time) -> None:
            pass

    return GunicornLogger


def __getattr__(name: str) -> Any:
    # `gunicorn --logger-class application_service.logs.GunicornLogger`
    if name == "GunicornLogger":
        return gunicorn_logger_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
