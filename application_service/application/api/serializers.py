"""Input and output serializers, explicit and separate: inputs validate, outputs describe.

Inputs reject fields they do not know (a typo is reported, not silently dropped).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from application.api.pagination import MAX_PAGE_SIZE
from application.models import MESSAGE_TEXT_MAX_LENGTH, Message
from application.selectors import MESSAGE_ORDERINGS

ID_MAX = 2**63 - 1
USERNAME_MAX_LENGTH = get_user_model()._meta.get_field("username").max_length


class InputSerializer(serializers.Serializer):
    """A request body: unknown fields are errors, reported beside any others."""

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = {name: [ErrorDetail("Unknown field.", code="unknown_field")]
                       for name in data if name not in writable}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictCharField(serializers.CharField):
    """A JSON string, and nothing else: 0 or 1.5 is not quietly turned into "0" or "1.5"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# At least one character that is not white space (text is trimmed), and no NUL anywhere.
VISIBLE_TEXT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": MESSAGE_TEXT_MAX_LENGTH,
                      "pattern": VISIBLE_TEXT_PATTERN})
class MessageTextField(StrictCharField):
    """Checked without that regular expression (linear time): trimmed, then not blank, no NUL."""

    def __init__(self, **kwargs):
        super().__init__(max_length=MESSAGE_TEXT_MAX_LENGTH, **kwargs)


# Errors

class FieldErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. required, max_length, unknown_field.")
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    code = serializers.CharField(
        help_text="Machine-readable: validation_error, parse_error, not_authenticated, "
                  "authentication_failed, permission_denied, not_found, method_not_allowed, "
                  "unsupported_media_type, request_too_large, throttled, ..."
    )
    message = serializers.CharField(help_text="For people; may change.")
    fields = serializers.DictField(
        child=FieldErrorSerializer(many=True), required=False,
        help_text="Validation errors only: per field (dotted for nested fields; non_field_errors "
                  "for errors about the whole body).",
    )


# Users and tokens

class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()


class AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class TokenObtainSerializer(InputSerializer):
    username = StrictCharField(max_length=USERNAME_MAX_LENGTH)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(source="key", help_text="Send as `Authorization: Token <token>`.")


# Messages

def iso_utc(value: datetime) -> str:
    """A time as DRF's DateTimeField writes it here (ISO 8601, UTC, a Z for +00:00)."""
    text = value.astimezone(UTC).isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else text


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = AuthorSerializer()
    text = serializers.CharField()
    status = serializers.ChoiceField(choices=Message.Status.choices,
                                     help_text="Set by the processing jobs, never by clients.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, message: Message) -> dict:
        """The declared fields, written directly: this runs for every message of every page, and
        DRF's walk through the fields cost more than the page's queries. The fields above stay
        the contract (the schema); a test holds this to what they would write."""
        return {
            "id": message.pk,
            "author": {"id": message.author_id, "username": message.author.username},
            "text": message.text,
            "status": message.status,
            "created_at": iso_utc(message.created_at),
            "updated_at": iso_utc(message.updated_at),
        }


class MessageCreateSerializer(InputSerializer):
    text = MessageTextField(help_text=f"Any Unicode text, at most {MESSAGE_TEXT_MAX_LENGTH} characters "
                                      f"(trimmed; not only white space; no NUL).")


class MessageUpdateSerializer(MessageCreateSerializer):
    pass


class MessageListQuerySerializer(serializers.Serializer):
    """The query string of the message list: filters, ordering, and the page.

    Give it `request.query_params.dict()`: a plain dict, so that an empty value (`?status=`) is
    an invalid value, as the schema says, rather than an absent one as in HTML forms.
    """

    author = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX,
                                      help_text="Only messages by this user id.")
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    created_after = serializers.DateTimeField(required=False, help_text="Created at or after this time.")
    created_before = serializers.DateTimeField(required=False, help_text="Created before this time.")
    ordering = serializers.ChoiceField(choices=list(MESSAGE_ORDERINGS), required=False,
                                       default="-created_at", help_text="Newest first by default.")
    cursor = serializers.CharField(required=False, max_length=1000,
                                   help_text="Opaque: follow the next and previous links.")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE,
                                         help_text=f"Items per page, 20 by default, {MAX_PAGE_SIZE} at most.")


def message_list_query(query: Mapping[str, str]) -> dict:
    """The message list's validated query string; a ValidationError (the 400) when it is not valid.

    Most lists are asked for with no query string: its answer, the defaults, is validated once.
    """
    return validated_list_query(query) if query else dict(default_list_query())


def validated_list_query(query: Mapping[str, str]) -> dict:
    serializer = MessageListQuerySerializer(data=query)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@functools.cache
def default_list_query() -> dict:
    return validated_list_query({})


class MessagePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null on the first.")
    results = MessageSerializer(many=True)


# The counter

class CounterSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.IntegerField()
