import pytest

from application_service import environments
from application_service.environments import ConfigurationError


def write_env(repository, name, text):
    (repository / "env").mkdir(exist_ok=True)
    (repository / "env" / f"{name}.env").write_text(text)


def test_precedence_process_over_dotenv_over_env_file(tmp_path):
    write_env(tmp_path, "local", "A=from-env-file\nB=from-env-file\nC=from-env-file\n")
    (tmp_path / ".env").write_text("A=from-dotenv\nB=from-dotenv\n")
    added = environments.values("local", {"A": "from-process"}, repository=tmp_path)
    assert "A" not in added  # the process environment wins: nothing is added
    assert added["B"] == "from-dotenv"
    assert added["C"] == "from-env-file"


def test_load_adds_to_the_mapping_without_overriding(tmp_path):
    write_env(tmp_path, "ci", "DATABASE_URL=mysql://x@h/d\nDEBUG=false\n")
    environ = {"DEBUG": "true"}
    assert environments.load("ci", environ, repository=tmp_path) == {"DATABASE_URL": "mysql://x@h/d"}
    assert environ == {"DEBUG": "true", "DATABASE_URL": "mysql://x@h/d"}


def test_missing_files_are_fine(tmp_path):
    assert environments.values("production", {}, repository=tmp_path) == {}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, "local"), ({"CI": "true"}, "ci"), ({"CI": "0"}, "local"),
     ({"CI": "true", "APP_ENV": "production"}, "production")],
)
def test_default_name(environ, expected):
    assert environments.default_name(environ) == expected


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ConfigurationError, match=r"Unknown environment 'staging'.*local, ci, production"):
        environments.settings_module("staging")


KEY = "a-production-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def test_production_names_every_missing_setting():
    with pytest.raises(ConfigurationError) as error:
        environments.require("production", {"ALLOWED_HOSTS": "example.com", "SECRET_KEY": " "})
    assert "SECRET_KEY, DATABASE_URL, REDIS_URL, NUM_PROXIES are not set" in str(error.value)
    environments.require("production", {"SECRET_KEY": KEY, "ALLOWED_HOSTS": "h", "DATABASE_URL": "d",
                                        "REDIS_URL": "r", "NUM_PROXIES": "0"})
    environments.require("local", {})  # local needs nothing


def test_production_takes_the_database_s_parts_for_its_url():
    environments.require("production", {"SECRET_KEY": KEY, "ALLOWED_HOSTS": "h", "DB_HOST": "db",
                                        "REDIS_URL": "rediss://r:6379/0", "NUM_PROXIES": "1"})


@pytest.mark.parametrize("url", ["127.0.0.1:6379", "localhost", "secret:hunter2@cache:6379", "http://cache"])
def test_a_redis_url_without_its_scheme_is_named_without_echoing_it(url):
    with pytest.raises(ConfigurationError) as error:
        environments.check_redis_url(url)
    message = str(error.value)
    assert message.startswith("REDIS_URL is not a Redis URL")
    assert url not in message.replace("redis://127.0.0.1:6379/0", "")  # beyond the example it shows


@pytest.mark.parametrize("url", ["", "redis://127.0.0.1:6379/0", "rediss://cache:6379/0",
                                 "unix:///run/redis.sock"])
def test_redis_urls_pass(url):
    assert environments.check_redis_url(url) == url


@pytest.mark.parametrize(("variables", "url"), [
    ({"REDIS_URL": "rediss://cache.example:6379/0"}, "rediss://cache.example:6379/0"),
    ({"REDIS_URL": "rediss://cache.example:6379/0", "REDIS_PASSWORD": "p@ss/w:rd"},
     "rediss://:p%40ss%2Fw%3Ard@cache.example:6379/0"),
    ({"REDIS_URL": "redis://app@cache.example:6379/1", "REDIS_PASSWORD": "token"},
     "redis://app:token@cache.example:6379/1"),
    ({"REDIS_URL": "redis://:given@cache.example:6379/0", "REDIS_PASSWORD": "other"},
     "redis://:given@cache.example:6379/0"),  # a URL that holds its password keeps it
    ({"REDIS_URL": "", "REDIS_PASSWORD": "token"}, ""),
])
def test_redis_password_set_apart_goes_into_the_url(variables, url):
    assert environments.redis_url(variables) == url


def test_a_password_protected_redis_is_reached_with_redis_password(tmp_path):
    """As on AWS (the AUTH token is a secret of its own): the cache, the broker and the probes
    authenticate with it."""
    import redis

    from ops.envvars import resolve
    from ops.processes import free_port
    from ops.testing import redis_server

    port, password = free_port(), "an-auth-token-0123456789"
    with redis_server(port, tmp_path, password=password):
        variables = {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "REDIS_PASSWORD": password}
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(variables["REDIS_URL"]).ping()
        assert redis.Redis.from_url(environments.redis_url(variables)).ping()
        assert redis.Redis.from_url(resolve("ci", variables).redis_url).ping()
