"""The embedded default: SQLite, local-memory cache; MySQL and Redis when their URLs are set."""

from application_service.environments import DEVELOPMENT_KEYS, load

load("local")

from .base import *  # noqa: E402,F403

DEBUG = env.bool("DEBUG", True)  # noqa: F405
# A development key: local only, never used by ci or production.
SECRET_KEY = SECRET_KEY or DEVELOPMENT_KEYS["local"]  # noqa: F405
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])  # noqa: F405
