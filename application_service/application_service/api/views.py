"""The base of every API view."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.views import APIView

NO_CONTENT = OpenApiResponse(description="Done; no body.")


class ApiView(APIView):
    """No OPTIONS: the schema describes the API (and the Allow header of a 405 stays true). A method
    the view does not have is a 405 before authentication, not a 401 that suggests signing in."""

    http_method_names = [method for method in APIView.http_method_names if method != "options"]

    def initial(self, request: Request, *args, **kwargs) -> None:
        if request.method.upper() not in self.allowed_methods:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
