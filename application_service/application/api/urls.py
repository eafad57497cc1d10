"""/api/: version 1 of the API, its OpenAPI schema and the Swagger UI."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from application.api import exceptions, views

v1 = [
    path("messages/", views.MessageCollectionApi.as_view(), name="messages"),
    path("messages/<int:message_id>/", views.MessageDetailApi.as_view(), name="message"),
    path("auth/token/", views.TokenApi.as_view(), name="token"),
    path("auth/me/", views.MeApi.as_view(), name="me"),
    path("counter/", views.CounterApi.as_view(), name="counter"),
    path("counter/increment/", views.CounterIncrementApi.as_view(), name="counter-increment"),
]

app_name = "api"

urlpatterns = [
    path("v1/", include((v1, "v1"))),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Last: any other address under /api/ is a 404 in the error shape, with DEBUG on too.
    re_path(r"", exceptions.api_not_found),
]
