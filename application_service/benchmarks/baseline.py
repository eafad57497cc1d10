"""The bare Django baseline for `invoke bench`: its settings, one URL and one view.

It does the counter page's database work and nothing else: no middleware, no installed apps, no
template, no ORM; one atomic UPDATE and one SELECT on the same application_counter row, through
the same connection settings (application_service.database.parse) as the project. gunicorn
serves it as `benchmarks.wsgi:application` (DJANGO_SETTINGS_MODULE=benchmarks.baseline).
"""

from __future__ import annotations

import os

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path

from application_service import database

COUNTER = "hello"  # the counter page's row (application.services.HELLO_COUNTER)
UPDATE = "UPDATE application_counter SET value = value + 1 WHERE name = %s"
SELECT = "SELECT value FROM application_counter WHERE name = %s"

# Settings: the minimum Django needs to answer one URL from the database.
DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY") or "bench-baseline-key-serves-no-session-or-signature"
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = __name__
USE_TZ = True
# Errors only, to the server's log: a failing baseline must say why.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
DATABASES = {
    "default": database.parse(
        os.environ.get("DATABASE_URL", ""),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE") or 60),
        connect_timeout=int(os.environ.get("DB_CONNECT_TIMEOUT") or 5),
    )
}


def counter(request: HttpRequest) -> HttpResponse:
    """Raise the counter and return its new value, as the counter page does."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(UPDATE, [COUNTER])
        cursor.execute(SELECT, [COUNTER])
        (value,) = cursor.fetchone()
    return HttpResponse(f"<!doctype html><title>baseline</title><p id=\"count\">{value}</p>\n")


urlpatterns = [path("", counter)]
