"""Input and output serializers of the accounts API."""

from __future__ import annotations

from knox.models import AuthToken
from rest_framework import serializers

from accounts.models import User
from application_service.api.serializers import (
    InputSerializer,
    ModelSerializer,
    StrictCharField,
    UTCDateTimeField,
)


class UserSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "is_staff"]
        read_only_fields = fields


class TokenObtainSerializer(InputSerializer):
    username = StrictCharField(max_length=User._meta.get_field("username").max_length)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class IssuedTokenSerializer(serializers.Serializer):
    """A token as it is issued: the only answer that ever holds its key."""

    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown this once: only "
                                            "a hash of it is stored.")
    expiry = UTCDateTimeField(allow_null=True, help_text="When the token stops working.")


class TokenSerializer(ModelSerializer):
    """A token as it is listed: never its key."""

    class Meta:
        model = AuthToken
        fields = ["token_key", "created", "expiry"]
        read_only_fields = fields
        extra_kwargs = {"token_key": {"help_text": "The first characters of the token's key: enough to "
                                                   "recognise it, and to revoke it."}}
