"""Bare Django with the project's apps: the counter page's reference and the ORM's JSON views.

Django's defaults and no middleware, the project's INSTALLED_APPS (its models and templates need
them), the project's database. The counter page: the project's own service function
(application.services.counter_increment) and template, rendered as the project's view renders
them, so the counter page's ratio to it is what the project's settings, middleware and URLs add.
The message list and detail: the project's selectors dumped to the API's JSON, no DRF; beside the
written SQL of baseline.py they show the ORM's cost. Served as
`ops.bench.references.wsgi:application` with DJANGO_SETTINGS_MODULE=ops.bench.references.orm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from application_service.environments import base as project
from ops.bench.references.baseline import *  # noqa: F403 (the baseline's settings, changed below)
from ops.bench.references.baseline import PAGE_SIZE, api_routes, json_or_404, json_response, timestamp

# The project's apps, as its models need them, and what they read when they load; no middleware.
INSTALLED_APPS = project.INSTALLED_APPS
AUTH_USER_MODEL = project.AUTH_USER_MODEL
DEFAULT_AUTO_FIELD = project.DEFAULT_AUTO_FIELD
MESSAGE_SWEEP_SECONDS = project.MESSAGE_SWEEP_SECONDS  # the sample app's ready() schedules its sweep
# Django's template engine finding the apps' templates, with no context processors.
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
ROOT_URLCONF = __name__


def counter(request: HttpRequest) -> HttpResponse:
    """The counter page as the project writes it: its service, its template, no middleware."""
    from application.services import counter_increment  # models import after django.setup()

    return render(request, "application/hello.html", {"count": counter_increment()})


def aware_timestamp(value: datetime) -> str:
    """The ORM's aware time as the API writes it (ISO 8601 in UTC with a Z)."""
    return timestamp(value.astimezone(UTC).replace(tzinfo=None))


def as_dict(message) -> dict:
    return {"id": message.pk, "author": {"id": message.author.pk},  # as an anonymous reader sees it
            "text": message.text, "status": message.status,
            "created_at": aware_timestamp(message.created_at),
            "updated_at": aware_timestamp(message.updated_at)}


def message_list(request: HttpRequest) -> HttpResponse:
    """The API's first page through the project's selector (the same two queries), no DRF."""
    from application.selectors import message_list as select

    page = list(select()[:PAGE_SIZE + 1])
    results = [as_dict(message) for message in page[:PAGE_SIZE]]
    following = None
    if len(page) > PAGE_SIZE:
        following = request.build_absolute_uri(f"?{urlencode({'after': results[-1]['id']})}")
    return json_response({"next": following, "previous": None, "results": results})


def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    """One message through the project's selector, no DRF."""
    from application.selectors import message_get

    return json_or_404(message_get(message_id=message_id), as_dict)


urlpatterns = [path("", counter), *api_routes(message_list, message_detail)]
