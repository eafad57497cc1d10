"""The API's reference in `invoke bench`: plain Django JSON views inside the project.

The project's production settings and middleware, the project's selectors (the same queries as
the API), and Django's own views and JSON in place of Django REST framework: what the API's
pages would cost written as bare Django views in this service. The API's ratio to it is what
DRF and the API's patterns (authentication, permissions, throttling, validation, pagination,
serializers) cost. Served as `ops.bench.references.wsgi:application` with
DJANGO_SETTINGS_MODULE=ops.bench.references.django_json.
"""

from __future__ import annotations

from django.urls import include, path

from application_service.environments.production import *  # noqa: F403 (settings, changed below)
from ops.bench.references.orm import message_detail, message_list

ROOT_URLCONF = __name__

# Nested as the project nests the API's URLs (api/, then v1/): the same resolving work.
urlpatterns = [
    path("api/", include([path("v1/", include([
        path("messages/", message_list),
        path("messages/<int:message_id>/", message_detail),
    ]))])),
]
