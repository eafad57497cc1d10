"""The login page: Django's, with the API's limit on password attempts per address.

Both ways to try a password (this form and POST /api/v1/auth/token/) draw on one budget
(THROTTLE_AUTH_RATE), so guessing is equally slow through either.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from application_service.api.throttling import AuthThrottle


class LoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        throttle = AuthThrottle()
        if throttle.allow_request(request, self):
            return super().post(request, *args, **kwargs)
        wait = int(throttle.wait())
        context = self.get_context_data(form=self.get_form(), retry_after=wait)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response
