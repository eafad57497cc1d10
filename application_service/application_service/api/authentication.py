"""Authentication for the API: DRF's token and session schemes.

Session authentication reads Django's request.user, which loads the session that the request's
cookie names. Django's user comes from nothing but that session here (the login page and the
admin sign in through it), so a request without the session cookie is anonymous: it is answered
as such at once, without the session and user lookups behind request.user (most API requests,
programs' and anonymous ones, carry no cookie at all).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.authentication import SessionScheme as SpectacularSessionScheme
from rest_framework import authentication


class SessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request):
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        return super().authenticate(request)


class SessionScheme(SpectacularSessionScheme):
    """The OpenAPI security scheme of the class above: drf-spectacular's, for DRF's class."""

    target_class = SessionAuthentication
