"""`invoke aws.bootstrap` and `aws.teardown` as a person runs them, against the moto server."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest

from ops.testing import REPOSITORY, invoke
from ops.tests.test_aws_template import for_moto

STACK = "little-service-production"
TEMPLATES = f"{STACK}-templates-123456789012"
SECRET = "a-secret-key-that-must-never-be-printed-0123456789abcdef"


def stack_status(name=STACK):
    from ops.aws.stack import stack_status as status

    return status(boto3.client("cloudformation", region_name="eu-west-1"), name)


@pytest.fixture(scope="module")
def moto_template(tmp_path_factory):
    """aws/environment.yml less the one property and outputs moto 5.2.5 cannot create (see
    for_moto): everything else, secrets included, goes through the task as it would to AWS."""
    from ops.aws.config import read_template

    path = tmp_path_factory.mktemp("template") / "environment.json"
    path.write_text(json.dumps(for_moto(read_template())))
    return str(path)


@pytest.fixture
def bootstrap(aws, moto_template):
    def run(env, *arguments):
        return invoke("aws.bootstrap", "--env", "production", "--template", moto_template, *arguments,
                      env=env, timeout=300)

    return run


def test_bootstrap_plans_creates_and_then_has_nothing_to_change(aws, bootstrap):
    first = bootstrap(aws, "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"Plan to create {STACK}" in first.stdout
    for resource in ("Database (AWS::RDS::DBInstance)", "Images (AWS::ECR::Repository)",
                     "WebEnvironment (AWS::ElasticBeanstalk::Environment)"):
        assert f"+ add      {resource}" in first.stdout
    assert "still missing: SECRET_KEY" in first.stdout
    assert f"{STACK} is ready." in first.stdout
    assert stack_status() == "CREATE_COMPLETE"
    # Over CloudFormation's inline limit, the template went through a private bucket of its own.
    s3 = boto3.client("s3", region_name="eu-west-1")
    [held] = s3.list_objects_v2(Bucket=TEMPLATES)["Contents"]
    assert json.loads(s3.get_object(Bucket=TEMPLATES, Key=held["Key"])["Body"].read())["Resources"]
    assert all(s3.get_public_access_block(Bucket=TEMPLATES)["PublicAccessBlockConfiguration"].values())
    events = boto3.client("cloudformation", region_name="eu-west-1").describe_stack_events(
        StackName=STACK)["StackEvents"]

    second = bootstrap(aws, "--yes")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{STACK}: nothing to change." in second.stdout
    assert "is ready" not in second.stdout
    after = boto3.client("cloudformation", region_name="eu-west-1").describe_stack_events(
        StackName=STACK)["StackEvents"]
    assert len(after) == len(events)  # nothing was executed


def test_dry_run_prints_the_plan_and_creates_nothing(aws, bootstrap):
    result = bootstrap(aws, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Plan to create {STACK}" in result.stdout
    assert "--dry-run: nothing was changed." in result.stdout
    assert stack_status() is None


def test_without_a_terminal_or_yes_it_asks_and_changes_nothing(aws, bootstrap):
    result = bootstrap({**aws, "CI": "false"})
    assert result.returncode == 1
    assert "pass --yes to go ahead without asking, or --dry-run" in result.stderr
    assert stack_status() is None


def test_a_stored_secret_is_handed_over_and_never_printed(aws, bootstrap):
    stored = subprocess.run([sys.executable, "-m", "invoke", "secrets.set", "SECRET_KEY", "--env",
                             "production"], input=SECRET, cwd=REPOSITORY, env=aws, capture_output=True,
                            text=True, timeout=120)
    assert stored.returncode == 0, stored.stderr
    result = bootstrap(aws, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "still missing" not in result.stdout
    assert SECRET not in result.stdout + result.stderr + stored.stdout + stored.stderr


# moto deletes a stack's resources in no dependency order (the VPC before what is in it), so the
# removal is tried on a stack of its own: a protected database and a repository.
SMALL_RESOURCES = {
    "Resources": {
        "Database": {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot", "Properties": {
            "Engine": "mysql", "DBInstanceClass": "db.t4g.small", "AllocatedStorage": "20",
            "MasterUsername": "admin", "ManageMasterUserPassword": True, "DeletionProtection": True}},
        "Images": {"Type": "AWS::ECR::Repository", "Properties": {
            "RepositoryName": {"Fn::Sub": "${ProjectName}-${EnvironmentName}"}}},
    },
}


def test_teardown_refuses_a_wrong_name_and_removes_after_the_right_one(aws, tmp_path):
    from ops.aws.config import read_template

    small = tmp_path / "small.json"  # the real template's parameters, a few resources
    small.write_text(json.dumps({**read_template(), **SMALL_RESOURCES, "Outputs": {}}))
    made = invoke("aws.bootstrap", "--env", "production", "--template", str(small), "--yes", env=aws)
    assert made.returncode == 0, made.stdout + made.stderr
    wrong = invoke("aws.teardown", "--env", "production", "--confirm", "prod", env=aws)
    assert wrong.returncode == 1
    assert "'prod' is not 'production': nothing was removed." in wrong.stderr
    assert stack_status() == "CREATE_COMPLETE"
    unasked = invoke("aws.teardown", "--env", "production", env=aws)
    assert unasked.returncode == 1 and "pass --confirm production" in unasked.stderr
    # as a bootstrap with a template over the inline limit leaves it
    from ops.aws.stack import upload_template

    upload_template(boto3.client("s3", region_name="eu-west-1"), bucket=TEMPLATES, region="eu-west-1",
                    body="{}")
    right = invoke("aws.teardown", "--env", "production", "--confirm", "production", env=aws,
                   timeout=300)
    assert right.returncode == 0, right.stdout + right.stderr
    assert "lifting deletion protection" in right.stdout
    assert f"{STACK} is removed." in right.stdout
    assert stack_status() is None
    buckets = {bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]}
    assert TEMPLATES not in buckets
    again = invoke("aws.teardown", "--env", "production", "--confirm", "production", env=aws)
    assert again.returncode == 1 and f"There is no stack {STACK}" in again.stderr


@pytest.mark.parametrize(("arguments", "variables", "message"), [
    (["--env", "staging"], {}, "Unknown environment 'staging'"),
    (["--env", "local"], {}, "local has no AWS environment"),
    (["--env", "production", "--region", "eu-middle-9"], {}, "The AWS region 'eu-middle-9' does not exist"),
    (["--env", "production", "--parameter", "WebMaxInstances=999"], {}, "WebMaxInstances=999"),
    (["--env", "production", "--parameter", "WebMaxInstances"], {}, "write it as Name=value"),
    (["--env", "production"], {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                               "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                               "AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"},
     "No AWS credentials found"),
])
def test_bad_input_is_one_clear_message_and_nothing_half_created(aws, moto_template, arguments, variables,
                                                               message):
    env = {key: value for key, value in {**aws, **variables}.items() if value}
    result = invoke("aws.bootstrap", *arguments, "--yes", "--template", moto_template, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert stack_status() is None
