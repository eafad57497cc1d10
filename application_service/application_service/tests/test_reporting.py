"""Django's error report never shows a password, whatever setting or variable holds it."""

import pytest
from django.test import override_settings
from django.urls import path
from django.views.debug import get_default_exception_reporter_filter

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret"
DATABASE_URL = f"mysql://u:{PASSWORD}@h/db"
WITH_PASSWORDS = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": f"rediss://:{PASSWORD}@cache.internal:6379/0",
    "CELERY_BROKER_URL": f"redis://broker:{PASSWORD}@queue.internal:6379/0",
    # Under names Django's filter lets through: the password is in the value.
    "CELERY_RESULT_BACKEND": f"redis://:{PASSWORD}@cache.internal:6379/1",
    "SEARCH": {"default": {"LOCATION": f"https://elastic:{PASSWORD}@search.internal:9200"}},
    "SENTRY_DSN": f"https://{PASSWORD}@o1.ingest.example.com/1",
    "DB_CREDENTIALS": f'{{"username": "u", "password": "{PASSWORD}"}}',
}


def failing_view(request):
    connection_url = DATABASE_URL  # noqa: F841  (a variable the traceback shows)
    raise RuntimeError("the view failed")


urlpatterns = [path("fails/", failing_view)]


@override_settings(ROOT_URLCONF=__name__, DEBUG=True, **WITH_PASSWORDS)
def test_the_debug_error_page_shows_no_password(client):
    client.raise_request_exception = False
    # runserver copies the process environment into request.META: so does this request.
    response = client.get("/fails/", DATABASE_URL=DATABASE_URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page and "the view failed" in page  # Django's technical 500 page
    assert "connection_url" in page and "TIME_ZONE" in page  # variables and settings are shown...
    assert PASSWORD not in page  # ...without a password


@override_settings(**WITH_PASSWORDS)
def test_the_filtered_settings_hold_no_password_and_keep_the_rest():
    safe = get_default_exception_reporter_filter().get_safe_settings()
    assert PASSWORD not in repr(safe)
    for name in WITH_PASSWORDS:
        assert name in safe  # named, its value hidden
    assert safe["DATABASE_URL"] == safe["SENTRY_DSN"] == "********************"
    assert safe["TIME_ZONE"] == "UTC" and safe["APP_VERSION"] == "unknown"  # the rest stays readable
