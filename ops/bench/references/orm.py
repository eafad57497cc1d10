"""The baseline plus the project's ORM: bare Django calling application's services and selectors.

Between the bare baseline (raw SQL) and the project's page or API (middleware, template, DRF),
it tells `invoke bench` how much of the gap is the ORM and how much the rest.
Served as `ops.bench.references.wsgi:application` with DJANGO_SETTINGS_MODULE=ops.bench.references.orm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse

from application_service.environments import base as project
from ops.bench.references.baseline import *  # noqa: F403 (the baseline's settings, changed below)
from ops.bench.references.baseline import (
    PAGE_SIZE,
    counter_page,
    json_or_404,
    json_response,
    routes,
    timestamp,
)

INSTALLED_APPS = project.INSTALLED_APPS  # the project's models need their apps; no middleware
ROOT_URLCONF = __name__


def counter(request: HttpRequest) -> HttpResponse:
    """Raise the counter through the project's service, with no middleware and no template."""
    from application.services import counter_increment  # models import after django.setup()

    return counter_page(counter_increment())


def aware_timestamp(value: datetime) -> str:
    """The ORM's aware time as the API writes it (ISO 8601 in UTC with a Z)."""
    return timestamp(value.astimezone(UTC).replace(tzinfo=None))


def as_dict(message) -> dict:
    return {"id": message.pk, "author": {"id": message.author_id, "username": message.author.username},
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


urlpatterns = routes(counter, message_list, message_detail)
