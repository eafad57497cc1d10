"""API views: thin. Each method parses its input, calls one service or selector, answers.

Permissions: the project default is IsAuthenticated; a view that lets anonymous clients in says
so here. Object permissions are checked on the object the selector found.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import router, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import MethodNotAllowed, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from application import selectors, services
from application.api import serializers
from application.api.pagination import CursorPagination
from application.api.permissions import IsAuthorOrStaffOrReadOnly
from application.api.throttling import AnonThrottle, AuthThrottle, UserThrottle
from application.models import Message

NO_CONTENT = OpenApiResponse(description="Done; no body.")


class ApiView(APIView):
    """The base of every view here.

    No OPTIONS: the schema describes the API (and the Allow header of a 405 stays true). A method
    the view does not have is a 405 before authentication, not a 401 that suggests signing in.
    """

    http_method_names = [method for method in APIView.http_method_names if method != "options"]

    def initial(self, request: Request, *args, **kwargs) -> None:
        if request.method.upper() not in self.allowed_methods:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


class MessageCollectionApi(ApiView):
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]

    @extend_schema(
        operation_id="messages_list", tags=["messages"],
        summary="List messages, newest first, a page at a time (cursor pagination).",
        parameters=[serializers.MessageListQuerySerializer],
        responses={200: serializers.MessagePageSerializer},
    )
    def get(self, request: Request) -> Response:
        params = serializers.message_list_query(request.query_params.dict())
        messages = selectors.message_list(
            author_id=params.get("author"), status=params.get("status"),
            created_after=params.get("created_after"), created_before=params.get("created_before"),
            ordering=params["ordering"],
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(serializers.MessageSerializer(page, many=True).data)

    @extend_schema(
        operation_id="messages_create", tags=["messages"], summary="Write a message (signed in).",
        request=serializers.MessageCreateSerializer,
        responses={201: serializers.MessageSerializer},
    )
    def post(self, request: Request) -> Response:
        data = serializers.MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_create(author=request.user, **data.validated_data)
        return Response(serializers.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class MessageDetailApi(ApiView):
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsAuthorOrStaffOrReadOnly]

    @staticmethod
    def locked() -> transaction.Atomic:
        """A write holds the message's row from the permission check to the write: a concurrent
        edit waits its turn, and a concurrent delete either waits or wins (this one is a 404)."""
        return transaction.atomic(using=router.db_for_write(Message))

    def get_message(self, request: Request, message_id: int, *, for_update: bool = False) -> Message:
        message = selectors.message_get(message_id=message_id, for_update=for_update)
        if message is None:
            raise NotFound("No message has this id.")
        self.check_object_permissions(request, message)
        return message

    @extend_schema(operation_id="messages_retrieve", tags=["messages"], summary="Read one message.",
                   responses={200: serializers.MessageSerializer})
    def get(self, request: Request, message_id: int) -> Response:
        return Response(serializers.MessageSerializer(self.get_message(request, message_id)).data)

    @extend_schema(
        operation_id="messages_update", tags=["messages"],
        summary="Change a message's text (its author or staff); absent fields stay as they are.",
        request=serializers.MessageUpdateSerializer, responses={200: serializers.MessageSerializer},
    )
    def patch(self, request: Request, message_id: int) -> Response:
        with self.locked():
            message = self.get_message(request, message_id, for_update=True)
            data = serializers.MessageUpdateSerializer(data=request.data, partial=True)
            data.is_valid(raise_exception=True)
            message = services.message_update(message=message, **data.validated_data)
        return Response(serializers.MessageSerializer(message).data)

    @extend_schema(operation_id="messages_delete", tags=["messages"],
                   summary="Delete a message (its author or staff).", responses={204: NO_CONTENT})
    def delete(self, request: Request, message_id: int) -> Response:
        with self.locked():
            services.message_delete(message=self.get_message(request, message_id, for_update=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        user = authenticate(request=request._request, **credentials.validated_data)
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


class CounterApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(operation_id="counter_retrieve", tags=["counter"],
                   summary="The hello page's counter, without raising it.",
                   responses={200: serializers.CounterSerializer})
    def get(self, request: Request) -> Response:
        value = selectors.counter_value()
        return Response(serializers.CounterSerializer({"name": services.HELLO_COUNTER, "value": value}).data)


class CounterIncrementApi(ApiView):
    @extend_schema(operation_id="counter_increment", tags=["counter"], request=None,
                   summary="Raise the hello page's counter by one (signed in); answers the new value.",
                   responses={200: serializers.CounterSerializer})
    def post(self, request: Request) -> Response:
        value = services.counter_increment()
        return Response(serializers.CounterSerializer({"name": services.HELLO_COUNTER, "value": value}).data)
