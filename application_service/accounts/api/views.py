"""The accounts API: tokens for programs (one per client, each revocable), and who is signed in."""

from __future__ import annotations

from django.contrib.auth import authenticate, user_logged_in
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import login_attempts, selectors, services
from accounts.api import serializers
from application_service.api.authentication import TokenAuthentication
from application_service.api.schema import links
from application_service.api.throttling import AnonThrottle, AuthThrottle, UserThrottle
from application_service.api.views import NO_CONTENT, ApiView


class TokenApi(ApiView):
    """Exchange a password for a new token, or revoke the token the request is signed in with."""

    throttle_classes = [AnonThrottle, UserThrottle, AuthThrottle]

    def get_permissions(self):
        if self.request.method == "POST":
            return [permissions.AllowAny()]
        return super().get_permissions()

    def get_authenticators(self):
        if self.request is not None and self.request.method == "POST":
            # Obtaining a token needs only the password: a stale token header must not block it.
            return []
        return [TokenAuthentication()]  # what DELETE revokes: a session has no token

    @extend_schema(
        operation_id="auth_token_obtain", tags=["auth"], auth=[],
        summary="Exchange a username and password for a new API token (one per client).",
        description="The key is in this answer only: the service stores a hash of it. Failed "
                    "sign-ins count against a budget per address and one per username (shared with "
                    "the login pages); a client over either is answered 429 until Retry-After.",
        request=serializers.TokenObtainSerializer, responses={200: serializers.IssuedTokenSerializer},
    )
    def post(self, request: Request) -> Response:
        credentials = serializers.TokenObtainSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = authenticate(request=request, **credentials.validated_data)
        if user is None:
            if getattr(request, "axes_locked_out", False):
                raise Throttled(wait=login_attempts.retry_after(request),
                                detail=login_attempts.LOCKED_OUT_MESSAGE)
            raise ValidationError("These credentials are not valid, or the account is inactive.",
                                  code="invalid_credentials")
        token, key = services.auth_token_create(user=user)
        # As a sign-in does (knox's own login view too): last_login, and the username's failed
        # attempts cleared (AXES_RESET_ON_SUCCESS).
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        return Response(serializers.IssuedTokenSerializer({"token": key, "expiry": token.expiry}).data)

    @extend_schema(operation_id="auth_token_revoke", tags=["auth"],
                   summary="Revoke the token this request is signed in with (its client only).",
                   responses={204: NO_CONTENT})
    @links(204, auth_token_obtain={})  # signed out: sign in again
    def delete(self, request: Request) -> Response:
        services.auth_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenCollectionApi(ApiView):
    @extend_schema(operation_id="auth_tokens_list", tags=["auth"],
                   summary="The signed-in user's tokens that still work, newest first (never a key).",
                   responses={200: serializers.TokenSerializer(many=True)})
    @links(200, auth_tokens_revoke={"token_key": "$response.body#/0/token_key"}, auth_tokens_revoke_all={},
           auth_token_revoke={})
    def get(self, request: Request) -> Response:
        tokens = selectors.auth_token_list(user=request.user)
        return Response(serializers.TokenSerializer(tokens, many=True).data)

    @extend_schema(operation_id="auth_tokens_revoke_all", tags=["auth"],
                   summary="Revoke every token of the signed-in user (every client is signed out).",
                   responses={204: NO_CONTENT})
    @links(204, auth_token_obtain={})
    def delete(self, request: Request) -> Response:
        services.auth_tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenDetailApi(ApiView):
    @extend_schema(
        operation_id="auth_tokens_revoke", tags=["auth"],
        summary="Revoke one token of the signed-in user (its client only).",
        parameters=[OpenApiParameter("token_key", str, OpenApiParameter.PATH,
                                     description="The token's `token_key`, as listed.")],
        responses={204: NO_CONTENT},
    )
    @links(204, auth_tokens_list={}, auth_tokens_revoke={"token_key": "$request.path.token_key"})  # now a 404
    def delete(self, request: Request, token_key: str) -> Response:
        if not services.auth_token_revoke_by_key(user=request.user, token_key=token_key):
            raise NotFound("The signed-in user has no token with this key.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(ApiView):
    @extend_schema(operation_id="auth_me", tags=["auth"], summary="The signed-in user.",
                   responses={200: serializers.UserSerializer})
    @links(200, auth_tokens_list={})
    def get(self, request: Request) -> Response:
        return Response(serializers.UserSerializer(request.user).data)
