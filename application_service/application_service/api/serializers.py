"""The API's platform serializers: strict input, model output in UTC, and the one error shape every
error answers with.

Inputs reject fields they do not know (a typo is reported, not silently dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from django.db import models
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail


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


class UTCDateTimeField(serializers.DateTimeField):
    """A time written in UTC (ISO 8601, with Z), whatever time zone is active."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, writing the model's times in UTC, as the schema promises.

    Through DRF's documented `serializer_field_mapping`. The API's answers do not depend on a
    request's time zone, and no value looks up the active one (for a page of 20 messages, a sixth
    of the request's work).
    """

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateTimeField: UTCDateTimeField}


class StrictCharField(serializers.CharField):
    """A JSON string, and nothing else: 0 or 1.5 is not quietly turned into "0" or "1.5"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


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
