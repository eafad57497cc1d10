"""An AWS session for one environment: its region checked, its credentials present."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from ops.errors import UserError


@dataclass(frozen=True)
class Account:
    """Where a task acts: the session, and the account and region it reaches."""

    session: object  # boto3.Session
    region: str
    account_id: str

    def client(self, service: str):
        return self.session.client(service, region_name=self.region)


def known_regions() -> set[str]:
    """The regions botocore knows for CloudFormation (its own data: no network call)."""
    import boto3

    session = boto3.Session()
    return {region for partition in session.get_available_partitions()
            for region in session.get_available_regions("cloudformation", partition_name=partition)}


def connect(region: str) -> Account:
    """The account the credentials reach in `region`; UserError for an unknown region or none."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    if not region:
        raise UserError("No AWS region: set Region in the environment's aws/<env>.json, or "
                        "AWS_REGION.")
    if region not in known_regions():
        raise UserError(f"The AWS region {region!r} does not exist. Use one of AWS's region names, "
                        f"e.g. eu-west-1 or us-east-1 (aws/<env>.json, Region).")
    session = boto3.Session(region_name=region)
    try:
        identity = session.client("sts").get_caller_identity()
    except NoCredentialsError:
        raise UserError("No AWS credentials found: configure them (aws configure, AWS_PROFILE, or "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run this again.") from None
    except NoRegionError:
        raise UserError(f"No AWS region for {region!r}.") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UserError(f"AWS refused the credentials ({error.get('Code')}: {error.get('Message')}); "
                        "check them (aws sts get-caller-identity) and run this again.") from None
    except BotoCoreError as exc:
        raise UserError(f"AWS cannot be reached in {region}: {exc}") from None
    return Account(session, region, identity["Account"])


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """An error AWS answers while doing `what` becomes a UserError with AWS's own words."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UserError(f"{what}: AWS answered {error.get('Code', '?')}: "
                        f"{error.get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise UserError(f"{what}: {exc}") from None
