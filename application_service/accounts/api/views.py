"""The accounts API: tokens for programs, and who is signed in."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.api import serializers
from application_service.api.throttling import AnonThrottle, AuthThrottle, UserThrottle
from application_service.api.views import NO_CONTENT, ApiView


class TokenApi(ApiView):
    """Token authentication for programs: exchange a password for a token, or revoke it."""

    throttle_classes = [AnonThrottle, UserThrottle, AuthThrottle]

    def get_permissions(self):
        if self.request.method == "POST":
            return [permissions.AllowAny()]
        return super().get_permissions()

    def get_authenticators(self):
        # Obtaining a token needs only the password: a stale token header must not block it.
        if self.request is not None and self.request.method == "POST":
            return []
        return super().get_authenticators()

    @extend_schema(
        operation_id="auth_token_obtain", tags=["auth"], auth=[],
        summary="Exchange a username and password for the user's API token.",
        request=serializers.TokenObtainSerializer, responses={200: serializers.TokenSerializer},
    )
    def post(self, request: Request) -> Response:
        credentials = serializers.TokenObtainSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = authenticate(request=request, **credentials.validated_data)
        if user is None:
            raise ValidationError("These credentials are not valid, or the account is inactive.",
                                  code="invalid_credentials")
        return Response(serializers.TokenSerializer(services.auth_token_obtain(user=user)).data)

    @extend_schema(operation_id="auth_token_revoke", tags=["auth"],
                   summary="Revoke the user's API token (every client using it is signed out).",
                   responses={204: NO_CONTENT})
    def delete(self, request: Request) -> Response:
        services.auth_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(ApiView):
    @extend_schema(operation_id="auth_me", tags=["auth"], summary="The signed-in user.",
                   responses={200: serializers.UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(serializers.UserSerializer(request.user).data)
