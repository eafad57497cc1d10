"""Production: MySQL, Redis, gunicorn, whitenoise. Refuses to start without its secrets."""

from application_service.environment import load, require

load("production")
require("production")

from .base import *  # noqa: E402,F403
from .base import env_int  # noqa: E402

DEBUG = False
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
}
WHITENOISE_USE_FINDERS = False
STATIC_ROOT = BASE_DIR / "staticfiles"

# TLS ends at the load balancer, which says so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = truthy(os.environ.get("SECURE_SSL_REDIRECT", "true"))  # noqa: F405
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = truthy(os.environ.get("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true"))  # noqa: F405
SECURE_HSTS_PRELOAD = truthy(os.environ.get("SECURE_HSTS_PRELOAD", "true"))  # noqa: F405
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
