"""OpenAPI: every operation documents the errors it can answer, in the one error shape.

The generic errors follow from how the view is built (a body can be malformed, too large or of
the wrong type; a path parameter can name nothing; any client can be throttled), so they are
added here for every operation; a view documents only its own successes and special cases.

A view method also names what a client can call next with an answer (OpenAPI links, `@links`
below): the id a POST answered reads, changes and deletes that message. Swagger UI shows them, and
schemathesis follows them in its stateful tests (application/tests/api/test_stateful.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured
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


View = TypeVar("View", bound=Callable)


def links(status: int, **targets: dict[str, str]) -> Callable[[View], View]:
    """OpenAPI links of a view method's `status` answer, each named after the operation it leads
    to and mapping that operation's parameters to runtime expressions:

        @links(201, messages_retrieve={"message_id": "$response.body#/id"})

    An empty mapping is a link that needs nothing from the answer (what a client does next).
    """

    def declare(method: View) -> View:
        method.openapi_links = {**getattr(method, "openapi_links", {}), str(status): targets}
        return method

    return declare


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self.error_codes(operation):
            responses.setdefault(code, self.error_response(code))
        for code, targets in self.declared_links().items():
            if code not in responses:
                raise ImproperlyConfigured(f"{operation['operationId']}: links of a {code} it never answers")
            responses[code]["links"] = {
                target: {"operationId": target, **({"parameters": parameters} if parameters else {})}
                for target, parameters in targets.items()
            }
        return operation

    def declared_links(self) -> dict[str, dict[str, dict[str, str]]]:
        return getattr(getattr(self.view, self.method.lower(), None), "openapi_links", {})

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
