"""CI: MySQL and Redis are required (env/ci.env points at them); nothing falls back silently."""

from application_service.environments import DEVELOPMENT_KEYS, ConfigurationError, load

load("ci")

from .base import *  # noqa: E402,F403

if DATABASES["default"]["ENGINE"] != "django.db.backends.mysql":  # noqa: F405
    raise ConfigurationError("The ci environment runs on MySQL: set DATABASE_URL=mysql://...")
if not REDIS_URL:  # noqa: F405
    raise ConfigurationError("The ci environment needs Redis: set REDIS_URL=redis://...")

SECRET_KEY = SECRET_KEY or DEVELOPMENT_KEYS["ci"]  # noqa: F405
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests only
