"""The one error shape of the API, for every error: validation, auth, permission, not found,
throttled, parse errors, oversized bodies, and even a 404 or 500 that no API view produced.

    {"code": "validation_error", "message": "The request is not valid.",
     "fields": {"text": [{"code": "max_length", "message": "Ensure this field ..."}]}}

`code` is machine-readable and stable; `message` is for people; `fields` appears only on
validation errors, keyed by field name (nested fields joined with dots, errors that concern
no single field under "non_field_errors").
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"
VALIDATION_CODE = "validation_error"
VALIDATION_MESSAGE = "The request is not valid."


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this service accepts."
    default_code = "request_too_large"


def field_errors(detail: Any, path: str = "") -> dict[str, list[dict[str, str]]]:
    """DRF's nested error details as {"a.b": [{"code", "message"}]}."""
    if isinstance(detail, dict):
        errors: dict[str, list[dict[str, str]]] = {}
        for key, value in detail.items():
            errors.update(field_errors(value, f"{path}.{key}" if path else str(key)))
        return errors
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        errors = {}
        for index, item in enumerate(detail):
            errors.update(field_errors(item, f"{path}.{index}" if path else str(index)))
        return errors
    items = detail if isinstance(detail, list) else [detail]
    name = path or api_settings.NON_FIELD_ERRORS_KEY
    return {name: [{"code": str(getattr(item, "code", "invalid")), "message": str(item)} for item in items]}


def error_body(code: str, message: str, fields: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    return body


def api_exception_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return error_body(VALIDATION_CODE, VALIDATION_MESSAGE, field_errors(exc.detail))
    detail = exc.detail
    if isinstance(detail, (list, dict)):  # an APIException raised with structured detail
        return error_body(exc.default_code, str(exc.default_detail), field_errors(detail))
    return error_body(str(getattr(detail, "code", None) or exc.default_code), str(detail))


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: Django's own exceptions become API ones, then one shape."""
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)  # sets WWW-Authenticate and Retry-After
    if response is None:
        return None  # an unexpected error: logged, then answered by handler500 below
    response.data = api_exception_body(exc)
    return response


# Errors raised outside any API view (no URL matched, an unhandled exception, a CSRF failure in
# middleware) still reach clients of /api/ in the same shape; other paths keep Django's pages.

def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    if not is_api(request):
        return defaults.bad_request(request, exception)
    return JsonResponse(error_body("bad_request", "The request cannot be served."), status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse(error_body("permission_denied", str(exceptions.PermissionDenied.default_detail)),
                        status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse(error_body("not_found", "No API endpoint or object at this address."), status=404)


@csrf_exempt  # a POST to a wrong address is a 404, not a CSRF failure page
def api_not_found(request: HttpRequest) -> JsonResponse:
    return page_not_found(request, Http404())


def server_error(request: HttpRequest) -> JsonResponse:
    if not is_api(request):
        return defaults.server_error(request)
    return JsonResponse(error_body("server_error", "The service failed to answer; it has been logged."),
                        status=500)
