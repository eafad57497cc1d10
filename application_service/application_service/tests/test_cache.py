"""The cache holds data, never code: with Redis (ci, production) values are stored as JSON, and a
pickled value planted in Redis is refused rather than unpickled."""

import os
import subprocess
import sys
import uuid

from ops.testing import REPOSITORY

PROGRAM = """
import pickle, django
django.setup()
from django.core.cache import cache
from django_redis import get_redis_connection

class Planted:
    ran = False
    def __reduce__(self):
        return (setattr, (Planted, "ran", True))

cache.set("serializer-check", {"count": 3, "names": ["a", "b"]}, timeout=60)
redis = get_redis_connection("default")
print(redis.get(cache.make_key("serializer-check")).decode())
print(cache.get("serializer-check"))
redis.set(cache.make_key("planted"), pickle.dumps(Planted()))
try:
    cache.get("planted")
except ValueError as error:
    print("refused", type(error).__name__)
print("ran", Planted.ran)
"""


def test_the_configured_redis_cache_stores_json_and_never_unpickles(redis_url):
    env = {key: value for key, value in os.environ.items()
           if key not in {"DJANGO_SETTINGS_MODULE", "APP_ENV"}}
    env.update(DJANGO_SETTINGS_MODULE="application_service.environments.ci", REDIS_URL=redis_url,
               CACHE_KEY_PREFIX=f"test-{uuid.uuid4().hex}")
    result = subprocess.run([sys.executable, "-c", PROGRAM], cwd=REPOSITORY / "application_service", env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['{"count": 3, "names": ["a", "b"]}',
                                          "{'count': 3, 'names': ['a', 'b']}",
                                          "refused UnicodeDecodeError", "ran False"]
