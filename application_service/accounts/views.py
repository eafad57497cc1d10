"""The login page: Django's, behind two limits on password attempts.

- The API's rate limit per address (THROTTLE_AUTH_RATE), shared with POST /api/v1/auth/token/:
  one counter in the cache, checked before anything else, so a flood costs a Redis INCR per
  request. It fails open when Redis is away.
- The budgets of failures per address and per username (accounts.login_attempts, django-axes),
  shared with the token endpoint and the admin's login, kept in the database: they fail closed.

Either way the page answers 429 with Retry-After, its form, and how long to wait.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from accounts import login_attempts
from application_service.api.throttling import AuthThrottle


class LoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        throttle = AuthThrottle()
        if throttle.allow_request(request, self):
            return super().post(request, *args, **kwargs)
        return self.too_many_attempts(int(throttle.wait()))

    def form_invalid(self, form) -> HttpResponse:
        if getattr(self.request, "axes_locked_out", False):
            return self.too_many_attempts(login_attempts.retry_after(self.request), locked_out=True)
        return super().form_invalid(form)

    def too_many_attempts(self, wait: int, *, locked_out: bool = False) -> HttpResponse:
        context = self.get_context_data(form=self.get_form(), retry_after=wait, locked_out=locked_out)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response
