"""Production: MySQL, Redis, gunicorn, whitenoise. Refuses to start without its secrets."""

from application_service.environments import load, require

load("production")
require("production")

from .base import *  # noqa: E402,F403

DEBUG = False
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
}
WHITENOISE_USE_FINDERS = False
STATIC_ROOT = BASE_DIR / "staticfiles"  # noqa: F405

# TLS ends at the load balancer, which says so in X-Forwarded-Proto (overwriting what a client
# sent). Believed only behind a proxy: without one, any client could claim HTTPS.
if REST_FRAMEWORK["NUM_PROXIES"]:  # noqa: F405
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", True)  # noqa: F405
# HSTS starts short: a browser that saw a long max-age keeps refusing plain HTTP for that long,
# so raise it (README, "Environments") once HTTPS works for the domain and every subdomain.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 3600)  # noqa: F405
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)  # noqa: F405
# Preloading commits the domain to the browsers' built-in lists, hard to undo: the team decides.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)  # noqa: F405
# check --deploy warns about both of those defaults; they are this template's decision, above.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The schema is a map of every endpoint, parameter and way in, and building it is the costliest
# answer the service gives: signed-in users only, unless the API is a public product (set true).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", False)  # noqa: F405
