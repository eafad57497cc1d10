import pytest

from application_service import database
from application_service.environments import ConfigurationError


def test_mysql_url_gets_utf8mb4_strict_read_committed_and_health_checks():
    config = database.parse("mysql://app:s3cret@db.internal:3307/little", conn_max_age=30)
    assert config["ENGINE"] == "django.db.backends.mysql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.internal", 3307, "little", "app")
    assert config["CONN_MAX_AGE"] == 30
    assert config["CONN_HEALTH_CHECKS"] is True
    options = config["OPTIONS"]
    assert options["charset"] == "utf8mb4"
    assert options["isolation_level"] == "read committed"
    assert "sql_mode='TRADITIONAL'" in options["init_command"]
    assert config["TEST"] == {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}


def test_sqlite_url_has_no_mysql_options():
    config = database.parse("sqlite:////tmp/x.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert "OPTIONS" not in config or "charset" not in config["OPTIONS"]


@pytest.mark.parametrize(
    ("url", "message"),
    [("postgres://u@h/d", "is not supported"), ("nonsense", "is not supported"),
     ("mysql://u@h:3306/", "names no database")],
)
def test_bad_urls_are_clear_errors(url, message):
    with pytest.raises(ConfigurationError, match=message):
        database.parse(url)


def test_errors_and_redaction_hide_the_password():
    assert database.redact("mysql://app:s3cret@h:3306/d") == "mysql://app:***@h:3306/d"
    assert database.redact("redis://h:6379/0") == "redis://h:6379/0"
    with pytest.raises(ConfigurationError) as error:
        database.parse("postgres://app:s3cret@h/d")
    assert "s3cret" not in str(error.value)


def test_the_url_from_its_parts_as_aws_hands_them_over():
    credentials = '{"username": "admin", "password": "p@ss:w/rd", "engine": "mysql"}'
    url = database.url_from_environment({"DB_HOST": "db.internal", "DB_NAME": "service",
                                         "DB_CREDENTIALS": credentials})
    assert url == "mysql://admin:p%40ss%3Aw%2Frd@db.internal:3306/service"
    config = database.parse(url)
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "admin", "p@ss:w/rd", "db.internal", 3306, "service")


def test_database_url_wins_over_parts_and_nothing_is_empty():
    assert database.url_from_environment({"DATABASE_URL": "sqlite:///x", "DB_HOST": "h"}) == "sqlite:///x"
    assert database.url_from_environment({}) == ""
    assert database.url_from_environment({"DB_HOST": "h", "DB_PORT": "3307", "DB_NAME": "n",
                                          "DB_USER": "u", "DB_PASSWORD": "p"}) == "mysql://u:p@h:3307/n"


def test_credentials_that_are_not_the_secret_s_json_are_named_not_shown():
    with pytest.raises(ConfigurationError) as error:
        database.url_from_environment({"DB_HOST": "h", "DB_CREDENTIALS": "hunter2"})
    assert "DB_CREDENTIALS is not the JSON of a database secret" in str(error.value)
    assert "hunter2" not in str(error.value)
