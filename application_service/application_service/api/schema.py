"""OpenAPI: every operation documents the errors it can answer, in the one error shape.

The generic errors follow from how the view is built (a body can be malformed, too large or of
the wrong type; a path parameter can name nothing; any client can be throttled), so they are
added here for every operation; a view documents only its own successes and special cases.
"""

from __future__ import annotations

from drf_spectacular import openapi
from rest_framework.permissions import SAFE_METHODS

from application_service.api.serializers import ErrorSerializer, InputSerializer

ERROR_DESCRIPTIONS = {
    "400": "The request is not valid: malformed JSON (parse_error) or invalid fields "
           "(validation_error, with `fields`).",
    "401": "Not authenticated, or the credentials are wrong (not_authenticated, authentication_failed).",
    "403": "Authenticated but not allowed, or a session request without its CSRF token "
           "(permission_denied).",
    "404": "Nothing at this address (not_found).",
    "413": "The request body is too large (request_too_large).",
    "414": "The address is too long: answered by the HTTP server (gunicorn) before the service, "
           "so not in the error shape.",
    "415": "The body is not JSON (unsupported_media_type).",
    "429": "Too many requests (throttled); retry after Retry-After seconds.",
}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self.error_codes(operation):
            responses.setdefault(code, self.error_response(code))
        return operation

    def error_codes(self, operation: dict) -> list[str]:
        has_body = "requestBody" in operation
        parameters = operation.get("parameters", [])
        codes = []
        if has_body or any(parameter["in"] == "query" for parameter in parameters):
            codes.append("400")
        if self.view.get_authenticators():
            codes.append("401")
            if self.method not in SAFE_METHODS:
                codes.append("403")
        if any(parameter["in"] == "path" for parameter in parameters):
            codes.append("404")
        if parameters:
            codes.append("414")
        if has_body:
            codes += ["413", "415"]
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def error_response(self, code: str) -> dict:
        if code == "414":
            return {"description": ERROR_DESCRIPTIONS[code]}
        schema = self.resolve_serializer(ErrorSerializer, "response").ref
        response = {"description": ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": schema}}}
        if code == "429":
            response["headers"] = {"Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds until the client may send again.",
            }}
        if code == "401":
            response["headers"] = {"WWW-Authenticate": {
                "schema": {"type": "string"}, "description": "How to authenticate: Token.",
            }}
        return response


def input_component_names(base: type = InputSerializer) -> set[str]:
    """The schema components of every InputSerializer: drf-spectacular names a serializer's
    component after its class without "Serializer", and "Patched..." for its partial form."""
    names = set()
    for subclass in base.__subclasses__():
        name = subclass.__name__.removesuffix("Serializer")
        names |= {name, f"Patched{name}"} | input_component_names(subclass)
    return names


def closed_inputs(result: dict, generator, request, public) -> dict:
    """A postprocessing hook (SPECTACULAR_SETTINGS): input bodies say additionalProperties: false,
    since they answer unknown fields with a 400."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in input_component_names() & set(schemas):
        schemas[name]["additionalProperties"] = False
    return result
