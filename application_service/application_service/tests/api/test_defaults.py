"""Project-wide API defaults: a new endpoint is safe unless it says otherwise."""

from __future__ import annotations

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from ops.testing import throttle_rates

pytestmark = pytest.mark.django_db


class BareView(APIView):
    """An endpoint that declares nothing."""

    def get(self, request):
        return Response({"secret": True})

    def post(self, request):
        return Response(request.data)


def test_a_new_view_requires_authentication():
    response = BareView.as_view()(APIRequestFactory().get("/api/v1/bare/"))
    assert response.status_code == 401
    assert response.data["code"] == "not_authenticated"


def test_a_new_view_is_throttled(settings, django_user_model):
    from rest_framework.test import force_authenticate

    throttle_rates(settings, user="1/minute")
    user = django_user_model.objects.create_user(username="u")
    view = BareView.as_view()
    codes = []
    for _ in range(2):
        request = APIRequestFactory().get("/api/v1/bare/")
        force_authenticate(request, user)
        codes.append(view(request).status_code)
    assert codes == [200, 429]


def test_a_new_view_accepts_only_json(django_user_model):
    from rest_framework.test import force_authenticate

    request = APIRequestFactory().post("/api/v1/bare/", "a=1",
                                       content_type="application/x-www-form-urlencoded")
    force_authenticate(request, django_user_model.objects.create_user(username="u"))
    assert BareView.as_view()(request).status_code == 415


def test_default_pagination_is_capped_and_follows_the_models_order(settings):
    from rest_framework.settings import api_settings

    from application_service.api.pagination import MAX_PAGE_SIZE, CursorPagination

    assert api_settings.DEFAULT_PAGINATION_CLASS is CursorPagination
    assert CursorPagination.max_page_size == MAX_PAGE_SIZE == 100
    assert api_settings.PAGE_SIZE == 20
