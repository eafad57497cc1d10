"""The API's platform serializers: strict input, and the one error shape every error answers with.

Inputs reject fields they do not know (a typo is reported, not silently dropped).
"""

from __future__ import annotations

from collections.abc import Mapping

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
