"""Authentication for the API: tokens (django-rest-knox) and DRF's session scheme.

Session authentication reads Django's request.user, which loads the session that the request's
cookie names. Django's user comes from nothing but that session here (the login page and the
admin sign in through it), so a request without the session cookie is anonymous: it is answered
as such at once, without the session and user lookups behind request.user (most API requests,
programs' and anonymous ones, carry no cookie at all).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.authentication import SessionScheme as SpectacularSessionScheme
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth as knox_auth
from rest_framework import authentication, exceptions


class TokenAuthentication(knox_auth.TokenAuthentication):
    """knox's, answering a token that is not UTF-8 with 401 as DRF's own token scheme does (knox
    decodes it unguarded: a header such as `Token \xcf` was a 500)."""

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "Invalid token header. Token string should not contain invalid characters.") from None
        return super().authenticate_credentials(token)


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of the class above: drf-spectacular's, for knox's class."""

    target_class = TokenAuthentication


class SessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request):
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        return super().authenticate(request)


class SessionScheme(SpectacularSessionScheme):
    """The OpenAPI security scheme of the class above: drf-spectacular's, for DRF's class."""

    target_class = SessionAuthentication
