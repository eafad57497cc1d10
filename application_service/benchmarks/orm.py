"""The baseline plus the project's ORM service: bare Django calling application.services.

Between the bare baseline (raw SQL) and the project's page (middleware, template), it tells
`invoke bench` how much of the gap is the ORM and how much the middleware stack and template.
Served as `benchmarks.wsgi:application` with DJANGO_SETTINGS_MODULE=benchmarks.orm.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from application_service.environments import base as project
from benchmarks.baseline import *  # noqa: F403 (the baseline's settings, changed below)

INSTALLED_APPS = project.INSTALLED_APPS  # the project's models need their apps; no middleware
ROOT_URLCONF = __name__


def counter(request: HttpRequest) -> HttpResponse:
    """Raise the counter through the project's service, with no middleware and no template."""
    from application.services import counter_increment  # models import after django.setup()

    value = counter_increment()
    return HttpResponse(f"<!doctype html><title>baseline</title><p id=\"count\">{value}</p>\n")


urlpatterns = [path("", counter)]
