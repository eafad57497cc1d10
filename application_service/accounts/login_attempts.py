"""How many wrong passwords a client may send: django-axes, with two budgets.

Every way to try a password (the login page, the admin's login, POST /api/v1/auth/token/) goes
through django.contrib.auth.authenticate(), where AxesStandaloneBackend, the first backend,
refuses a locked-out client before any password is hashed, and where every failure is recorded.
Failures within the cool-off (AXES_COOLOFF_TIME) count against two budgets at once:

- per address (LOGIN_FAILURES_PER_ADDRESS): the client's address as the API's throttles take it,
  an IPv6 /64 counting as one (application_service.api.throttling.client_address);
- per username (LOGIN_FAILURES_PER_USERNAME): so that rotating addresses does not help.

Axes compares every lockout parameter with one limit (AXES_FAILURE_LIMIT); this handler gives
each budget its own, as axes' maintainers advise (a handler of one's own). The failures live in
the database, not in the cache: when Redis is away the budgets still hold (fail closed).

A successful sign-in clears the failures of its username only. Clearing its address's too, as
axes would, would let anyone with an account reset the address budget between guesses at others'.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from axes.attempts import get_cool_off_threshold
from axes.conf import settings
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from application_service.api.exceptions import error_body, is_api
from application_service.logs import request_fields

LOCKED_OUT_MESSAGE = "Too many failed sign-ins for this username or from this address."
LOCKED_OUT_REASON = "sign-in locked out: a budget of failed sign-ins is spent"


class LoginAttemptsHandler(AxesDatabaseHandler):
    """AXES_HANDLER: axes' database handler with a budget per address and one per username."""

    def budgets(self, request, credentials: dict | None = None) -> Iterator[tuple[QuerySet, int]]:
        """(the failures counted against it within the cool-off, its limit) for each budget."""
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        yield recent.filter(ip_address=request.axes_ip_address), settings.LOGIN_FAILURES_PER_ADDRESS
        yield (recent.filter(username=get_client_username(request, credentials)),
               settings.LOGIN_FAILURES_PER_USERNAME)

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return any(
            (attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0) >= limit
            for attempts, limit in self.budgets(request, credentials)
        )

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        # Axes records the failure and locks out when a budget reaches AXES_FAILURE_LIMIT (set to
        # the larger of the two); this locks out when either reaches its own limit.
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None:
            return
        if not (request.axes_locked_out or self.is_whitelisted(request, credentials)
                or not self.is_locked(request, credentials)):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=get_client_username(request, credentials),
                                 ip_address=request.axes_ip_address)
        # Said on the request's one log line (axes' own lines are left out: LOGGING).
        request_fields(request).setdefault("reason", LOCKED_OUT_REASON if request.axes_locked_out
                                           else "sign-in failed")

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """AXES_RESET_ON_SUCCESS: the signed-in username's failures, not its address's."""
        count, _ = AccessAttempt.objects.filter(username=get_client_username(request, credentials)).delete()
        return count

    def retry_after(self, request, credentials: dict | None = None) -> int:
        """Seconds until every exhausted budget has room for another attempt (at least 1).

        A budget's failures expire row by row (axes keeps one row per username, address and user
        agent, dated by its latest failure): newest first, the row that brings the count to the
        limit is the one whose expiry frees the budget.
        """
        cool_off, now = get_cool_off(request), timezone.now()
        wait = 0.0
        for attempts, limit in self.budgets(request, credentials):
            counted = 0
            rows = attempts.order_by("-attempt_time").values_list("attempt_time", "failures_since_start")
            for attempt_time, failures in rows:
                counted += failures
                if counted >= limit:
                    wait = max(wait, (attempt_time + cool_off - now).total_seconds())
                    break
        return max(1, math.ceil(wait))


def retry_after(request, credentials: dict | None = None) -> int:
    """Seconds a locked-out client must wait (request: the one authenticate() was given)."""
    AxesProxyHandler.update_request(request)
    credentials = credentials or getattr(request, "axes_credentials", None)
    return AxesProxyHandler.get_implementation().retry_after(request, credentials)


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what AxesMiddleware answers a locked-out sign-in with. 429 and
    Retry-After always: the API's error shape under /api/, else a page saying how long to wait.

    A view that answered the lockout itself (the login page shows its form with the message) keeps
    its answer.
    """
    request_fields(request).setdefault("reason", LOCKED_OUT_REASON)
    if isinstance(original_response, HttpResponse) and original_response.status_code == 429:
        return original_response
    wait = retry_after(request, credentials)
    if is_api(request):
        body = error_body("throttled", f"{LOCKED_OUT_MESSAGE} Expected available in {wait} seconds.")
        response = JsonResponse(body, status=429)
    else:
        response = render(request, "accounts/locked_out.html",
                          {"message": LOCKED_OUT_MESSAGE, "retry_after": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response
