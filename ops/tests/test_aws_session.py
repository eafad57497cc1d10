"""Which account and region an AWS task acts in, and the messages when it cannot."""

import pytest

from ops.aws import session
from ops.errors import UserError


def test_the_account_the_credentials_reach(aws):
    account = session.connect("eu-west-1")
    assert (account.account_id, account.region) == ("123456789012", "eu-west-1")
    assert account.client("s3").meta.region_name == "eu-west-1"


def test_a_region_that_does_not_exist_is_named(aws):
    with pytest.raises(UserError, match="The AWS region 'eu-middle-9' does not exist"):
        session.connect("eu-middle-9")


def test_no_credentials_say_how_to_give_them(aws, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(UserError, match="No AWS credentials found: configure them"):
        session.connect("eu-west-1")
