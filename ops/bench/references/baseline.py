"""The bare SQL floor of `invoke bench`: its settings, its URLs and views.

It does the API's database work and nothing else: no middleware, no installed apps, no ORM, no
serializer, through the same connection settings (application_service.database.parse) as the
project. The message list and detail: the same queries as the API (the first page of 20, newest
first, then its authors; one message by id with its author) as written SQL, dumped to the same JSON
as the API gives an anonymous reader (an author's id, no username).
Beside the ORM's JSON views (orm.py) it shows what the ORM costs. gunicorn serves it as
`ops.bench.references.wsgi:application` (DJANGO_SETTINGS_MODULE=ops.bench.references.baseline).
"""

from __future__ import annotations

import json
import os
from base64 import b64encode
from collections.abc import Callable
from urllib.parse import urlencode

from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path

from application_service import database
from ops.bench.data import USER_TABLE

# The API's statements: for the first page, the messages in the default order (one row more
# than the page, as cursor pagination reads) and then their authors; one message by id with its
# author joined.
MESSAGES = ("SELECT m.id, m.author_id, m.text, m.status, m.created_at, m.updated_at, u.username "  # noqa: S608
            f"FROM application_message m INNER JOIN {USER_TABLE} u ON u.id = m.author_id")
MESSAGE_PAGE = ("SELECT id, author_id, text, status, created_at, updated_at FROM application_message "
                "ORDER BY created_at DESC, id DESC LIMIT %s")
AUTHORS = f"SELECT id, username FROM {USER_TABLE} WHERE id IN ({{}})"  # noqa: S608 (placeholders)
MESSAGE_BY_ID = f"{MESSAGES} WHERE m.id = %s"
PAGE_SIZE = 20

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


def timestamp(value) -> str:
    """As the API writes a time: ISO 8601 in UTC with a Z (the column holds UTC)."""
    return f"{value.isoformat()}Z"


def message(row) -> dict:
    pk, author_id, text, status, created_at, updated_at, _username = row  # anonymous: no username
    return {"id": pk, "author": {"id": author_id}, "text": text,
            "status": status, "created_at": timestamp(created_at), "updated_at": timestamp(updated_at)}


def json_response(body: dict) -> HttpResponse:
    return HttpResponse(json.dumps(body), content_type="application/json")


def json_or_404(found, as_json: Callable[[object], dict]) -> HttpResponse:
    """What was found, as JSON; a 404 when nothing was (None)."""
    if found is None:
        raise Http404
    return json_response(as_json(found))


def message_list(request: HttpRequest) -> HttpResponse:
    """The API's first page of messages, newest first, with a link to the next."""
    with connection.cursor() as cursor:
        cursor.execute(MESSAGE_PAGE, [PAGE_SIZE + 1])
        rows = cursor.fetchall()
        author_ids = sorted({row[1] for row in rows[:PAGE_SIZE]})
        usernames = {}
        if author_ids:
            cursor.execute(AUTHORS.format(", ".join(["%s"] * len(author_ids))), author_ids)
            usernames = dict(cursor.fetchall())
    results = [message((*row, usernames[row[1]])) for row in rows[:PAGE_SIZE]]
    following = None
    if len(rows) > PAGE_SIZE:
        cursor_value = b64encode(urlencode({"p": results[-1]["created_at"]}).encode()).decode()
        following = request.build_absolute_uri(f"?{urlencode({'cursor': cursor_value})}")
    return json_response({"next": following, "previous": None, "results": results})


def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(MESSAGE_BY_ID, [message_id])
        row = cursor.fetchone()
    return json_or_404(row, message)


def api_routes(message_list, message_detail) -> list:
    """The API's addresses, where every JSON reference serves its views (the bench asks each)."""
    return [
        path("api/v1/messages/", message_list),
        path("api/v1/messages/<int:message_id>/", message_detail),
    ]


urlpatterns = api_routes(message_list, message_detail)
