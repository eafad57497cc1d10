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
