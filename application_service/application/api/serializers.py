"""The sample API's serializers, explicit and separate: inputs validate, outputs describe."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from application.models import MESSAGE_TEXT_MAX_LENGTH, Counter, Message
from application.selectors import MESSAGE_ORDERINGS
from application_service.api.pagination import MAX_PAGE_SIZE
from application_service.api.serializers import InputSerializer, ModelSerializer, StrictCharField

ID_MAX = 2**63 - 1

# At least one character that is not white space (text is trimmed), and no NUL anywhere.
VISIBLE_TEXT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": MESSAGE_TEXT_MAX_LENGTH,
                      "pattern": VISIBLE_TEXT_PATTERN})
class MessageTextField(StrictCharField):
    """Checked without that regular expression (linear time): at most the maximum length as sent
    (as the schema says), then trimmed, not blank, no NUL."""

    def __init__(self, **kwargs):
        super().__init__(max_length=MESSAGE_TEXT_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class AuthorSerializer(ModelSerializer):
    """A message's author. Signed-in readers see the username; anonymous readers (and a serializer
    given no request) the id alone, so that the public API lists no usernames to guess passwords for."""

    username = serializers.CharField(required=False, help_text="For signed-in readers only.")

    class Meta:
        model = get_user_model()
        fields = ["id", "username"]

    def to_representation(self, instance):
        author = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            del author["username"]
        return author


class MessageSerializer(ModelSerializer):
    author = AuthorSerializer(read_only=True)

    class Meta:
        model = Message
        fields = ["id", "author", "text", "status", "created_at", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {"status": {"help_text": "Set by the processing jobs, never by clients."}}


class MessageInputSerializer(InputSerializer):
    text = MessageTextField(help_text=f"Any Unicode text, at most {MESSAGE_TEXT_MAX_LENGTH} characters "
                                      f"(trimmed; not only white space; no NUL).")


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


class MessagePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null on the first.")
    results = MessageSerializer(many=True)


class CounterSerializer(ModelSerializer):
    class Meta:
        model = Counter
        fields = ["name", "value"]
