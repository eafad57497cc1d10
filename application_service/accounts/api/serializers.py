"""Input and output serializers of the accounts API."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.authtoken.models import Token

from accounts.models import User
from application_service.api.serializers import InputSerializer, ModelSerializer, StrictCharField


class UserSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "is_staff"]
        read_only_fields = fields


class TokenObtainSerializer(InputSerializer):
    username = StrictCharField(max_length=User._meta.get_field("username").max_length)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(ModelSerializer):
    token = serializers.CharField(source="key", read_only=True,
                                  help_text="Send as `Authorization: Token <token>`.")

    class Meta:
        model = Token
        fields = ["token"]
