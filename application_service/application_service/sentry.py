"""Errors to Sentry when SENTRY_DSN is set, from the web and the worker alike; nothing without it.

Called from the settings (environments/base.py), so every process that loads them reports: gunicorn's
workers (the Django integration), Celery's (the Celery integration), manage.py. Every event is
scrubbed as the log lines are (application_service.logs.scrub) and tagged with its request's id,
which finds the request's and its jobs' lines in the logs.
"""

from __future__ import annotations

import structlog

from application_service.environments import ConfigurationError
from application_service.logs import REQUESTS_LOGGER, scrub

# Loggers whose records are no error to report: one line per request (a 500's exception reaches
# Sentry from the Django integration), and hosts a scanner made up (answered 400).
QUIET_LOGGERS = (REQUESTS_LOGGER, "django.security.DisallowedHost")


def before_send(event: dict, hint: dict) -> dict:
    """The event as Sentry receives it: secrets replaced by [Filtered], the request's id as a tag."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return scrub(event)


def init(*, dsn: str, release: str, environment: str, traces_sample_rate: float = 0.0) -> bool:
    """Start reporting to `dsn` (nothing is imported or started without one); True when it did."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import ignore_logger
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(dsn)
    except BadDsn as exc:
        raise ConfigurationError(
            f"SENTRY_DSN cannot be read ({exc}): copy it from the Sentry project's settings "
            f"(Client Keys), as https://<key>@<host>/<project id>."
        ) from None
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # No user's address, cookies or headers with credentials; the scrub goes further.
        send_default_pii=False,
        before_send=before_send,
        before_send_transaction=before_send,
        traces_sample_rate=traces_sample_rate or None,  # None: no tracing at all
    )
    for name in QUIET_LOGGERS:
        ignore_logger(name)
    return True
