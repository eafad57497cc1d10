"""The sample API's views: thin. Each method parses its input, calls one service or selector, answers.

Permissions: the project default is IsAuthenticated; a view that lets anonymous clients in says
so here. Object permissions are checked on the object the selector found. The serializers get the
request (their context): what a message shows of its author depends on who reads it.
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from application import selectors, services
from application.api import serializers
from application.api.permissions import IsAuthorOrStaffOrReadOnly
from application.models import Counter, Message
from application_service.api.pagination import CursorPagination
from application_service.api.schema import links
from application_service.api.views import NO_CONTENT, ApiView

# What a client can call next with an answer (OpenAPI links): the message it names, ...
THIS_MESSAGE = {"message_id": "$response.body#/id"}
# ...and the messages of the author it names.
BY_THIS_AUTHOR = {"author": "$response.body#/author/id"}


class MessageCollectionApi(ApiView):
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]

    @extend_schema(
        operation_id="messages_list", tags=["messages"],
        summary="List messages, newest first, a page at a time (cursor pagination).",
        parameters=[serializers.MessageListQuerySerializer],
        responses={200: serializers.MessagePageSerializer},
    )
    @links(200, messages_retrieve={"message_id": "$response.body#/results/0/id"})
    def get(self, request: Request) -> Response:
        query = serializers.MessageListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        messages = selectors.message_list(
            author_id=params.get("author"), status=params.get("status"),
            created_after=params.get("created_after"), created_before=params.get("created_before"),
            ordering=params["ordering"],
        )
        paginator = CursorPagination()
        paginator.ordering = selectors.MESSAGE_ORDERINGS[params["ordering"]]
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(
            serializers.MessageSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="messages_create", tags=["messages"], summary="Write a message (signed in).",
        request=serializers.MessageInputSerializer,
        responses={201: serializers.MessageSerializer},
    )
    @links(201, messages_retrieve=THIS_MESSAGE, messages_update=THIS_MESSAGE, messages_delete=THIS_MESSAGE,
           messages_list=BY_THIS_AUTHOR)
    def post(self, request: Request) -> Response:
        data = serializers.MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_create(author=request.user, **data.validated_data)
        return Response(serializers.MessageSerializer(message, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class MessageDetailApi(ApiView):
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsAuthorOrStaffOrReadOnly]

    def get_message(self, request: Request, message_id: int, *, for_update: bool = False) -> Message:
        message = selectors.message_get(message_id=message_id, for_update=for_update)
        if message is None:
            raise NotFound("No message has this id.")
        self.check_object_permissions(request, message)
        return message

    @extend_schema(operation_id="messages_retrieve", tags=["messages"], summary="Read one message.",
                   responses={200: serializers.MessageSerializer})
    @links(200, messages_update=THIS_MESSAGE, messages_delete=THIS_MESSAGE, messages_list=BY_THIS_AUTHOR)
    def get(self, request: Request, message_id: int) -> Response:
        message = self.get_message(request, message_id)
        return Response(serializers.MessageSerializer(message, context={"request": request}).data)

    # A write holds the message's row from the permission check to the write: a concurrent edit
    # waits its turn, and a concurrent delete either waits or wins (this one is then a 404). The
    # body is read and validated before the row is locked: a slow client holds no lock.

    @extend_schema(
        operation_id="messages_update", tags=["messages"],
        summary="Change a message's text (its author or staff); absent fields stay as they are.",
        request=serializers.MessageInputSerializer, responses={200: serializers.MessageSerializer},
    )
    @links(200, messages_retrieve=THIS_MESSAGE, messages_delete=THIS_MESSAGE)
    def patch(self, request: Request, message_id: int) -> Response:
        self.get_message(request, message_id)  # 404 or 403 before the body is read
        data = serializers.MessageInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            message = self.get_message(request, message_id, for_update=True)
            message = services.message_update(message=message, **data.validated_data)
        return Response(serializers.MessageSerializer(message, context={"request": request}).data)

    @extend_schema(operation_id="messages_delete", tags=["messages"],
                   summary="Delete a message (its author or staff).", responses={204: NO_CONTENT})
    @links(204, messages_retrieve={"message_id": "$request.path.message_id"})  # now a 404
    def delete(self, request: Request, message_id: int) -> Response:
        with transaction.atomic():
            services.message_delete(message=self.get_message(request, message_id, for_update=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CounterApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(operation_id="counter_retrieve", tags=["counter"],
                   summary="The hello page's counter, without raising it.",
                   responses={200: serializers.CounterSerializer})
    @links(200, counter_increment={})
    def get(self, request: Request) -> Response:
        counter = Counter(name=Counter.HELLO, value=selectors.counter_value())
        return Response(serializers.CounterSerializer(counter).data)


class CounterIncrementApi(ApiView):
    @extend_schema(operation_id="counter_increment", tags=["counter"], request=None,
                   summary="Raise the hello page's counter by one (signed in); answers the new value.",
                   responses={200: serializers.CounterSerializer})
    @links(200, counter_retrieve={})
    def post(self, request: Request) -> Response:
        counter = Counter(name=Counter.HELLO, value=services.counter_increment())
        return Response(serializers.CounterSerializer(counter).data)
