"""503 Service Unavailable, at once, for a page or API call that cannot reach the database.

While MySQL restarts, fails over or hangs, a request that needs it fails within the connect
and read timeouts (database.py). Left alone, Django would answer 500 and log a traceback for
each request: an outage would look like a bug and bury the log. Instead the client gets a 503
with Retry-After (the API's error shape under /api/, a short page elsewhere) and the log one
line, the request's, naming the cause without a traceback. Nothing needs restarting: each
request reconnects on its own once the server is back (persistent connections are
health-checked before use).

process_exception sees what any view raised, an API view's too: DRF's exception handler lets
database errors through (api/exceptions.py). What a middleware raises is answered by handler500,
a 503 as well (api/exceptions.server_error).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from application_service import database
from application_service.api.exceptions import service_unavailable


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database.unreachable(exception):
            return None  # anything else is a bug: Django's 500 and its traceback
        return service_unavailable(request, exception)
