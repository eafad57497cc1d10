"""The one error shape of the API, for every error: validation, auth, permission, not found,
throttled, parse errors, oversized bodies, a database out of reach (503), and even a 404 or 500
that no API view produced.

    {"code": "validation_error", "message": "The request is not valid.",
     "fields": {"text": [{"code": "max_length", "message": "Ensure this field ..."}]}}

`code` is machine-readable and stable; `message` is for people; `fields` appears only on
validation errors, keyed by field name (nested fields joined with dots, errors that concern
no single field under "non_field_errors").
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from application_service import database
from application_service.logs import request_fields

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
        # An unexpected error: logged, then answered by handler500 below. A database out of reach
        # goes on to unavailable.DatabaseUnavailableMiddleware: 503, for pages and the API alike.
        return None
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


UNAVAILABLE_CODE = "service_unavailable"
UNAVAILABLE_MESSAGE = "The service is briefly unavailable; try again in a few seconds."
UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Service unavailable</title></head>
<body><h1>Service unavailable</h1><p>The service is briefly unavailable. Please try again in a few
seconds.</p></body></html>
"""
RETRY_AFTER_SECONDS = 5


def service_unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After for a database out of reach (`exc`): the API's shape under /api/, a
    short page (no template) elsewhere. The cause goes on the request's one log line, without a
    traceback: an outage is no bug, and a traceback for each request would bury the log."""
    request_fields(request).update(reason="database_unreachable", error=f"{type(exc).__name__}: {exc}")
    if is_api(request):
        response = JsonResponse(error_body(UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE), status=503)
    else:
        response = HttpResponse(UNAVAILABLE_PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    # A database out of reach where no view could catch it (a middleware reading the session,
    # say) is still a 503: Django calls this inside its `except` block, so the error is at hand.
    if database.unreachable(error := sys.exc_info()[1]):
        return service_unavailable(request, error)
    if not is_api(request):
        return defaults.server_error(request)
    return JsonResponse(error_body("server_error", "The service failed to answer; it has been logged."),
                        status=500)
