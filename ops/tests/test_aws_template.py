"""The environment's CloudFormation template (aws/environment.yml) and its production values
(aws/production.json): linted, its values checked against its own constraints, and created on the
moto server, where what moto models is read back through boto3. moto does not model Elastic
Beanstalk, ElastiCache, CodeBuild, CodePipeline, CloudWatch alarms, security group egress rules or
IAM's RolePolicy (the stack still completes, with those resources as placeholders), nor a few
properties of what it does model; those are asserted on the template, each where it is."""

from __future__ import annotations

import ast
import copy
import fnmatch
import json
import re
import subprocess
import sys

import boto3
import pytest
import yaml

from ops.aws.parameters import check
from ops.testing import REPOSITORY

TEMPLATE_PATH = REPOSITORY / "aws" / "environment.yml"
PRODUCTION_PATH = REPOSITORY / "aws" / "production.json"
# moto warns of every resource type its CloudFormation does not model: expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

PROJECT, ENV = "little-service", "production"
STACK = f"{PROJECT}-{ENV}"
REGION = "eu-west-1"
INLINE_TEMPLATE_LIMIT = 51_200  # CloudFormation's limit for a template sent in the request
ECR_PUSH = {"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"}
NAME_PROPERTIES = {"RoleName", "InstanceProfileName", "RepositoryName", "BucketName", "TopicName",
                   "QueueName", "LogGroupName", "GroupName", "DBInstanceIdentifier", "DBParameterGroupName",
                   "DBSubnetGroupName", "CacheSubnetGroupName", "ReplicationGroupId", "ApplicationName",
                   "EnvironmentName", "CNAMEPrefix", "Name", "AlarmName", "TableName", "FilterName"}


def template() -> dict:
    return yaml.safe_load(TEMPLATE_PATH.read_text())


def production() -> dict:
    return json.loads(PRODUCTION_PATH.read_text())


def values(**changes: str) -> dict[str, str]:
    """production.json's values with the two the bootstrap task passes."""
    return {**production()["Parameters"], "ProjectName": PROJECT, "EnvironmentName": ENV, **changes}


def resource(name: str) -> dict:
    return template()["Resources"][name]


def options(environment: str) -> dict[tuple[str, str], object]:
    """A Beanstalk environment's option settings, (namespace, option) -> value; a setting under
    Fn::If counts with its value for the condition true."""
    settings = {}
    for setting in resource(environment)["Properties"]["OptionSettings"]:
        if "Fn::If" in setting:
            setting = setting["Fn::If"][1]
        settings[(setting["Namespace"], setting["OptionName"])] = setting["Value"]
    return settings


def in_namespace(settings: dict, namespace: str) -> dict[str, object]:
    return {option: value for (where, option), value in settings.items() if where == namespace}


def statements(document: dict) -> list[dict]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def walk(node):
    """Every dict and list inside a template node, the node included."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from walk(child)


def getatt_targets(node) -> set[str]:
    """The resources whose attributes a template node reads (Fn::GetAtt, and ${Name.Attribute} in Fn::Sub)."""
    targets = set()
    for part in walk(node):
        if isinstance(part, dict) and "Fn::GetAtt" in part:
            targets.add(part["Fn::GetAtt"][0])
        if isinstance(part, dict) and isinstance(part.get("Fn::Sub"), str):
            targets |= {name for name, _ in re.findall(r"\$\{(\w+)\.([\w.]+)\}", part["Fn::Sub"])}
    return targets


def for_moto(original: dict) -> dict:
    """The template as moto 5.2.5 can create it. Two of its forms, right on AWS, break moto:
    - the database's DBParameterGroupName, a Ref to the stack's parameter group: moto names that
      group itself and resolves the Ref to the group object, not its name, and the stack fails; the
      link is asserted on the template (test_the_database_is_utf8mb4_...);
    - an output reading an attribute of a resource type moto does not model (RedisEndpoint):
      describe_stacks fails on it.
    Both are taken out, and only those (the test says which)."""
    from moto.cloudformation.parsing import get_model_map

    rendered = copy.deepcopy(original)
    rendered["Resources"]["Database"]["Properties"].pop("DBParameterGroupName")
    modelled = get_model_map()
    unmodelled = {name for name, spec in rendered["Resources"].items() if spec["Type"] not in modelled}
    rendered["Outputs"] = {key: output for key, output in rendered["Outputs"].items()
                           if not getatt_targets(output["Value"]) & unmodelled}
    return rendered


def create_stack(**changes: str) -> dict:
    """The stack made on moto from the template and production.json (plus `changes`); its
    description once CREATE_COMPLETE."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(for_moto(template())),
                     Parameters=[{"ParameterKey": key, "ParameterValue": value}
                                 for key, value in values(**changes).items()],
                     Tags=[{"Key": key, "Value": value} for key, value in production()["Tags"].items()],
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName=STACK,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return cfn.describe_stacks(StackName=STACK)["Stacks"][0]


def inline_policies(role: str) -> list[dict]:
    """The statements of a role's inline policies, as IAM (moto) holds them."""
    iam = boto3.client("iam")
    found = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):  # moto keeps a template's policy as Python's repr of it, not JSON
            document = ast.literal_eval(document)
        found += statements(document)
    return found


# --- the template as a file -------------------------------------------------------------------

def test_cfn_lint_finds_nothing():
    """Every finding, informational ones included; the one rule ignored (E3691, on the database) is
    ignored in the template beside its reason."""
    result = subprocess.run([sys.executable, "-c", "from cfnlint.runner import main; main()",  # cfn-lint
                             "--include-checks", "I", "--", str(TEMPLATE_PATH)],
                            capture_output=True, text=True, timeout=300)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_template_is_plain_yaml_with_the_long_form_of_every_function():
    text = TEMPLATE_PATH.read_text()
    assert not re.search(r"(^|[\s\[{:,])!(Ref|Sub|GetAtt|Join|If|Select|GetAZs|Not|Equals|Split|Base64)\b",
                         text, re.MULTILINE)
    loaded = template()  # yaml.safe_load refuses !Ref-style tags
    assert {"Parameters", "Conditions", "Resources", "Outputs"} <= loaded.keys()


def test_a_rendered_template_over_the_inline_limit_is_sent_through_s3():
    """The bootstrap task sends the template inline (compact JSON) while it fits CloudFormation's
    request limit, and through the templates bucket once it does not (test_aws_bootstrap runs that
    path: this template with its secrets is over the limit)."""
    from ops.aws.config import fits_inline, template_body, with_secrets

    assert fits_inline("x" * INLINE_TEMPLATE_LIMIT) and not fits_inline("x" * (INLINE_TEMPLATE_LIMIT + 1))
    assert not fits_inline(template_body(with_secrets(template(), ["SECRET_KEY"])))


def test_production_json_holds_the_region_the_parameters_and_the_tags():
    config = production()
    assert list(config) == ["Region", "Parameters", "Tags"]
    assert config["Region"] == REGION
    assert config["Tags"] == {"Project": PROJECT, "Environment": ENV}
    assert all(isinstance(value, str) for value in config["Parameters"].values())
    assert not {"ProjectName", "EnvironmentName"} & config["Parameters"].keys()  # the task passes them


def test_production_gives_every_parameter_a_value_within_its_constraints():
    declared = template()["Parameters"]
    assert [name for name, spec in declared.items() if "Default" in spec] == []  # values live in the file
    assert check(template(), values()) == []


def test_every_size_and_limit_is_a_constrained_parameter():
    declared = template()["Parameters"]
    for name in ("WebMinInstances", "WebMaxInstances", "WorkerMinInstances", "WorkerMaxInstances",
                 "DBAllocatedStorage", "DBBackupRetentionDays", "RedisNodes", "EcrImagesKept",
                 "BuildTimeoutMinutes", "ArtifactRetentionDays"):
        assert declared[name]["Type"] == "Number" and {"MinValue", "MaxValue"} <= declared[name].keys(), name
    assert (declared["WebMinInstances"]["MinValue"], declared["WebMinInstances"]["MaxValue"]) == (1, 20)
    assert declared["DBBackupRetentionDays"]["MinValue"] >= 1
    assert {1, 7, 30, 365, 3653} <= set(declared["LogRetentionDays"]["AllowedValues"])
    for name in ("WebInstanceType", "WorkerInstanceType", "DBInstanceClass", "RedisNodeType",
                 "SolutionStackName", "AlarmEmail", "DBName", "CodeBuildComputeType", "LogRetentionDays"):
        assert {"AllowedValues", "AllowedPattern"} & declared[name].keys(), name
    # ...and the resources read them, not literals
    web, worker = options("WebEnvironment"), options("WorkerEnvironment")
    assert web[("aws:autoscaling:asg", "MinSize")] == {"Ref": "WebMinInstances"}
    assert web[("aws:autoscaling:asg", "MaxSize")] == {"Ref": "WebMaxInstances"}
    assert web[("aws:ec2:instances", "InstanceTypes")] == {"Ref": "WebInstanceType"}
    assert worker[("aws:autoscaling:asg", "MinSize")] == {"Ref": "WorkerMinInstances"}
    assert worker[("aws:autoscaling:asg", "MaxSize")] == {"Ref": "WorkerMaxInstances"}
    assert worker[("aws:ec2:instances", "InstanceTypes")] == {"Ref": "WorkerInstanceType"}
    for environment in (web, worker):
        assert in_namespace(environment, "aws:elasticbeanstalk:cloudwatch:logs")["RetentionInDays"] == {
            "Ref": "LogRetentionDays"}
    database = resource("Database")["Properties"]
    assert {key: database[key] for key in ("DBInstanceClass", "AllocatedStorage", "BackupRetentionPeriod",
                                           "MultiAZ", "DBName")} == {
        "DBInstanceClass": {"Ref": "DBInstanceClass"}, "AllocatedStorage": {"Ref": "DBAllocatedStorage"},
        "BackupRetentionPeriod": {"Ref": "DBBackupRetentionDays"}, "MultiAZ": {"Ref": "DBMultiAZ"},
        "DBName": {"Ref": "DBName"}}
    assert resource("Redis")["Properties"]["CacheNodeType"] == {"Ref": "RedisNodeType"}
    assert resource("BuildLogGroup")["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_name_derives_from_the_project_and_the_environment():
    named = 0
    for logical_id, spec in template()["Resources"].items():
        for key, value in (spec.get("Properties") or {}).items():
            if key in NAME_PROPERTIES and not (isinstance(value, dict) and "Ref" in value):
                assert isinstance(value, dict) and "${ProjectName}-${EnvironmentName}" in value["Fn::Sub"], (
                    logical_id, key, value)
                named += 1
    assert named >= 25


# --- the values checked before anything reaches AWS ---------------------------------------------

@pytest.mark.parametrize(("changes", "problem"), [
    ({"WebMaxInstances": "99"}, "WebMaxInstances=99 is above its maximum 20"),
    ({"WebMinInstances": "0"}, "WebMinInstances=0 is below its minimum 1"),
    ({"WebMinInstances": "two"}, "WebMinInstances=two is not a number"),
    ({"LogRetentionDays": "2"}, "LogRetentionDays=2 is not one of its allowed values: 1, 3, 5, 7, 14, 30"),
    ({"DBMultiAZ": "yes"}, "DBMultiAZ=yes is not one of its allowed values: true, false"),
    ({"DBName": "little-service"}, "DBName=little-service does not match its pattern"),
    ({"WebInstanceType": "t4g.small"}, "WebInstanceType=t4g.small is not one of its allowed values"),
    ({"AlarmEmail": "ops at example.com"}, "AlarmEmail=ops at example.com does not match its pattern"),
    ({"SolutionStackName": "64bit Amazon Linux 2 v3.6.0 running Docker"}, "SolutionStackName=64bit"),
    ({"ProjectName": "a-very-long-project-name"},
     "ProjectName=a-very-long-project-name is longer than its maximum length 20"),
    ({"DBBackupRetentionDays": "0"}, "DBBackupRetentionDays=0 is below its minimum 1"),
    ({"RedisNodes": "NaN"}, "RedisNodes=NaN is not a number"),
    ({"WebMinInstances": "8"}, "WebMinInstances=8 is above WebMaxInstances=6"),
    ({"ScaleInCpuPercent": "80"}, "ScaleInCpuPercent=80 is above ScaleOutCpuPercent=70"),
    ({"EcrImagesKept": "40"}, "ApplicationVersionsKept=50 is above EcrImagesKept=40"),
    ({"WebMaxInstances": 5}, 'WebMaxInstances=5 is not a string: CloudFormation takes every parameter value '
                             'as text, write it as "5"'),
    ({"WebMaxInstance": "4"}, "WebMaxInstance is not a parameter of the template"),
])
def test_a_value_out_of_its_constraints_is_named(changes, problem):
    problems = check(template(), values(**changes))
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_missing_value_is_named_and_the_optional_ones_may_be_empty():
    given = values(AlarmEmail="", DomainName="", CertificateArn="", SourceConnectionArn="")
    assert check(template(), given) == []
    del given["DBInstanceClass"]
    assert check(template(), given) == [
        "DBInstanceClass has no value and no default: give it one in the environment's Parameters"]


def test_check_follows_cloudformations_rules_on_any_template():
    declared = {"Parameters": {
        "Sizes": {"Type": "List<Number>", "MinValue": 1, "MaxValue": 3},
        "Names": {"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]},
        "Code": {"Type": "String", "AllowedPattern": "[a-z]+", "MinLength": 2},  # the whole value must match
        "Ratio": {"Type": "Number", "AllowedValues": [0.5, 1]},
        "Optional": {"Type": "String", "Default": "x"},
    }}
    assert check(declared, {"Sizes": "1, 3", "Names": "a,b", "Code": "ab", "Ratio": "0.50"}) == []
    assert check(declared, {"Sizes": "1,4", "Names": "a,c", "Code": "a1", "Ratio": "2"}) == [
        "Sizes=4 is above its maximum 3",
        "Names=c is not one of its allowed values: a, b",
        "Code=a1 does not match its pattern [a-z]+",
        "Ratio=2 is not one of its allowed values: 0.5, 1",
    ]
    assert check(declared, {"Sizes": "2", "Names": "a", "Code": "", "Ratio": "1"}) == [
        "Code (empty) does not match its pattern [a-z]+",
        "Code (empty) is shorter than its minimum length 2",
    ]


# --- what the template says where moto cannot tell ------------------------------------------------

def test_the_database_is_utf8mb4_encrypted_protected_and_its_password_is_kept_by_aws():
    database = resource("Database")
    properties = database["Properties"]
    # moto ignores DeletionProtection and ManageMasterUserPassword from a template, and the
    # parameter group's link (see for_moto): asserted here.
    assert (database["DeletionPolicy"], database["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    assert properties["DeletionProtection"] is True and properties["StorageEncrypted"] is True
    assert properties["ManageMasterUserPassword"] is True
    assert properties["DBParameterGroupName"] == {"Ref": "DatabaseParameterGroup"}
    assert properties["DBSubnetGroupName"] == {"Ref": "DatabaseSubnetGroup"}
    assert properties["PubliclyAccessible"] is False
    assert (properties["Engine"], properties["EngineVersion"]) == ("mysql", "8.0")
    parameters = resource("DatabaseParameterGroup")["Properties"]
    assert parameters["Family"] == "mysql8.0"
    assert parameters["Parameters"]["character_set_server"] == "utf8mb4"
    assert parameters["Parameters"]["collation_server"] == "utf8mb4_unicode_ci"
    text = TEMPLATE_PATH.read_text()
    assert not re.search(r"\bMasterUserPassword\b|NoEcho", text)  # no password goes through CloudFormation


def test_no_output_carries_a_secret():
    outputs = template()["Outputs"]
    assert {"Url", "EcrRepositoryUri", "EcrRepositoryName", "ApplicationName", "WebEnvironmentName",
            "WorkerEnvironmentName", "SecretsPath", "AlarmTopicArn", "DatabaseEndpoint", "RedisEndpoint",
            "ArtifactBucket"} <= outputs.keys()
    shown = json.dumps([output["Value"] for output in outputs.values()])
    assert not re.search("MasterUserSecret|Password|SECRET_KEY|environmentsecrets", shown)


def test_the_web_environment():
    web = resource("WebEnvironment")["Properties"]
    assert web["Tier"] == {"Name": "WebServer", "Type": "Standard"}
    assert web["SolutionStackName"] == {"Ref": "SolutionStackName"}
    assert web["CNAMEPrefix"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}"}
    settings = options("WebEnvironment")
    assert settings[("aws:elasticbeanstalk:environment", "EnvironmentType")] == "LoadBalanced"
    assert settings[("aws:elasticbeanstalk:environment", "LoadBalancerType")] == "application"
    assert settings[("aws:ec2:vpc", "ELBSubnets")] == {"Fn::Join": [",", [{"Ref": "PublicSubnetA"},
                                                                       {"Ref": "PublicSubnetB"}]]}
    assert settings[("aws:ec2:vpc", "Subnets")] == {"Fn::Join": [",", [{"Ref": "PrivateSubnetA"},
                                                                    {"Ref": "PrivateSubnetB"}]]}
    assert settings[("aws:elasticbeanstalk:healthreporting:system", "SystemType")] == "enhanced"
    assert settings[("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath")] == "/healthz"
    assert settings[("aws:elasticbeanstalk:command", "DeploymentPolicy")] == "Immutable"
    instances = in_namespace(settings, "aws:autoscaling:launchconfiguration")
    assert instances["SecurityGroups"] == {"Ref": "WebSecurityGroup"}
    assert settings[("aws:elbv2:loadbalancer", "SecurityGroups")] == {"Ref": "LoadBalancerSecurityGroup"}
    environment = in_namespace(settings, "aws:elasticbeanstalk:application:environment")
    assert (environment["APP_ENV"], environment["APP_ROLE"], environment["NUM_PROXIES"]) == (
        "production", "serve", "1")  # the load balancer; nginx adds nothing (test_nginx.py)
    assert_service_settings(settings)


def test_the_worker_environment_scales_without_a_load_balancer():
    worker = resource("WorkerEnvironment")["Properties"]
    assert worker["Tier"] == {"Name": "Worker", "Type": "SQS/HTTP"}
    assert "CNAMEPrefix" not in worker
    settings = options("WorkerEnvironment")
    assert settings[("aws:elasticbeanstalk:environment", "EnvironmentType")] == "LoadBalanced"  # autoscaled
    assert not [key for key in settings if key[0].startswith("aws:elbv2") or key[1] in {"ELBSubnets",
                                                                                        "LoadBalancerType"}]
    # The single-container Docker platform takes no ProxyServer but nginx ("none" is for Docker
    # Compose environments only), so the worker leaves it at that default.
    assert ("aws:elasticbeanstalk:environment:proxy", "ProxyServer") not in settings
    assert settings[("aws:elasticbeanstalk:sqsd", "WorkerQueueURL")] == {"Ref": "WorkerQueue"}
    instances = in_namespace(settings, "aws:autoscaling:launchconfiguration")
    assert instances["SecurityGroups"] == {"Ref": "WorkerSecurityGroup"}
    environment = in_namespace(settings, "aws:elasticbeanstalk:application:environment")
    assert environment["APP_ROLE"] == "celery --beat"
    assert environment["NUM_PROXIES"] == "0"  # serves no HTTP; production requires the setting
    assert_service_settings(settings)


def assert_service_settings(settings: dict) -> None:
    """What both environments hand the service: where things are, and the secrets as ARNs."""
    environment = in_namespace(settings, "aws:elasticbeanstalk:application:environment")
    assert environment["REDIS_URL"] == {
        "Fn::Sub": "rediss://${Redis.PrimaryEndPoint.Address}:${Redis.PrimaryEndPoint.Port}/0"}
    assert environment["DB_HOST"] == {"Fn::GetAtt": ["Database", "Endpoint.Address"]}
    assert environment["DB_PORT"] == {"Fn::GetAtt": ["Database", "Endpoint.Port"]}
    assert environment["DB_NAME"] == {"Ref": "DBName"}
    hosts = environment["ALLOWED_HOSTS"]["Fn::If"]
    assert hosts[0] == "HasDomain" and hosts[2] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}.${AWS::Region}.elasticbeanstalk.com"}
    assert hosts[1]["Fn::Sub"].endswith(",${DomainName}")
    secrets = in_namespace(settings, "aws:elasticbeanstalk:application:environmentsecrets")
    assert {name: secrets[name] for name in ("SECRET_KEY", "DB_CREDENTIALS", "REDIS_PASSWORD")} == {
        "SECRET_KEY": {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/"
                                  "${ProjectName}/${EnvironmentName}/SECRET_KEY"},
        "DB_CREDENTIALS": {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]},
        "REDIS_PASSWORD": {"Ref": "RedisAuth"},
    }
    optional = {"SENTRY_DSN", "METRICS_TOKEN"}  # under conditions (below)
    assert set(secrets) - {"SECRET_KEY", "DB_CREDENTIALS", "REDIS_PASSWORD"} <= optional
    logs = in_namespace(settings, "aws:elasticbeanstalk:cloudwatch:logs")
    assert (logs["StreamLogs"], logs["DeleteOnTerminate"]) == ("true", "false")
    instances = in_namespace(settings, "aws:autoscaling:launchconfiguration")
    assert instances["IamInstanceProfile"] == {"Ref": "InstanceProfile"}
    assert instances["DisableDefaultEC2SecurityGroup"] == instances["DisableIMDSv1"] == "true"


def test_the_instances_read_only_the_databases_and_redis_own_secrets():
    # An AWS::IAM::RolePolicy, which moto does not model: asserted on the template.
    policy = resource("InstanceDatabaseSecretPolicy")["Properties"]
    assert policy["RoleName"] == {"Ref": "InstanceRole"}
    assert statements(policy["PolicyDocument"]) == [
        {"Sid": "DatabaseCredentials", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]}},
        {"Sid": "RedisAuth", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": {"Ref": "RedisAuth"}}]


def test_the_pipeline_builds_from_the_connection_and_the_build_can_push():
    pipeline = resource("Pipeline")
    assert pipeline["Condition"] == "HasSourceConnection"
    source, build, _ = pipeline["Properties"]["Stages"]
    configuration = source["Actions"][0]["Configuration"]
    assert source["Actions"][0]["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert configuration["ConnectionArn"] == {"Ref": "SourceConnectionArn"}
    assert (configuration["FullRepositoryId"], configuration["BranchName"]) == (
        {"Ref": "SourceRepository"}, {"Ref": "SourceBranch"})
    configuration = dict(build["Actions"][0]["Configuration"])
    # The branch, for the build's rule: images are pushed from main only (ops/source_branch.py).
    assert json.loads(configuration.pop("EnvironmentVariables")) == [
        {"name": "SOURCE_BRANCH", "value": "#{SourceVariables.BranchName}", "type": "PLAINTEXT"}]
    assert configuration == {"ProjectName": {"Ref": "BuildProject"}}
    assert source["Actions"][0]["Namespace"] == "SourceVariables"
    assert [stage["Name"] for stage in pipeline["Properties"]["Stages"]] == ["Source", "Build", "Deploy"]
    project = resource("BuildProject")["Properties"]
    assert project["Environment"]["PrivilegedMode"] is True
    assert project["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "aws/buildspec.yml"}
    assert (REPOSITORY / project["Source"]["BuildSpec"]).is_file()
    variables = {variable["Name"]: variable["Value"]
                 for variable in project["Environment"]["EnvironmentVariables"]}
    assert variables == {"INVOKE_DOCKER_REPOSITORY": {"Ref": "Images"}, "CI": "true"}


def test_the_pipelines_deploy_stage_runs_the_deploy_task_not_beanstalks_deploy_action():
    stages = {stage["Name"]: stage for stage in resource("Pipeline")["Properties"]["Stages"]}
    [action] = stages["Deploy"]["Actions"]
    assert action["ActionTypeId"] == {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild",
                                      "Version": "1"}
    assert action["Configuration"] == {"ProjectName": {"Ref": "DeployProject"}}
    assert action["InputArtifacts"] == [{"Name": "Source"}]
    providers = {action["ActionTypeId"]["Provider"]
                 for stage in stages.values() for action in stage["Actions"]}
    assert "ElasticBeanstalk" not in providers
    project = resource("DeployProject")
    assert project["Condition"] == "HasSourceConnection"
    assert project["Properties"]["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "aws/deployspec.yml"}
    assert "PrivilegedMode" not in project["Properties"]["Environment"]  # it builds nothing
    role = resource("DeployRole")["Properties"]
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk"}]
    statements = {statement["Sid"]: statement
                  for statement in role["Policies"][0]["PolicyDocument"]["Statement"]}
    project_arn = "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/"
    assert statements["Migrations"]["Resource"] == {"Fn::Sub": project_arn + "${MigrateProject}"}
    assert statements["Locks"]["Resource"] == {"Fn::GetAtt": ["DeployTable", "Arn"]}
    started = resource("PipelineRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [build] = [statement for statement in started if statement["Sid"] == "Build"]
    assert {"Fn::Sub": project_arn + "${DeployProject}"} in build["Resource"]


def test_the_migrations_run_with_the_new_image_inside_the_vpc_and_read_secrets_from_aws():
    properties = resource("MigrateProject")["Properties"]
    assert properties["Source"]["Type"] == "NO_SOURCE"
    spec = yaml.safe_load(properties["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == [
        "cd /app && invoke migrate --lint ${ALLOW_BREAKING_MIGRATIONS:+--allow-breaking}"]
    assert properties["VpcConfig"] == {
        "VpcId": {"Ref": "Vpc"}, "Subnets": [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}],
        "SecurityGroupIds": [{"Ref": "WorkerSecurityGroup"}]}
    environment = properties["Environment"]
    assert environment["ImagePullCredentialsType"] == "SERVICE_ROLE"
    variables = {variable["Name"]: variable for variable in environment["EnvironmentVariables"]}
    assert variables["SECRET_KEY"]["Type"] == "PARAMETER_STORE"
    assert variables["DB_CREDENTIALS"] == {"Name": "DB_CREDENTIALS", "Type": "SECRETS_MANAGER", "Value": {
        "Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]}}
    web = options("WebEnvironment")
    for name in ("DB_HOST", "DB_PORT", "DB_NAME", "REDIS_URL"):  # the database the web role reads
        assert variables[name]["Value"] == web[("aws:elasticbeanstalk:application:environment", name)]
    assert properties["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": "MigrateLogGroup"}
    assert resource("MigrateLogGroup")["Properties"]["LogGroupName"] == {
        "Fn::Sub": "/aws/codebuild/${ProjectName}-${EnvironmentName}-migrate"}
    statements = {statement["Sid"]: statement for statement in
                  resource("MigrateRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
    assert not any("ecr:PutImage" in as_list(statement["Action"]) for statement in statements.values())
    [secret] = resource("MigrateDatabaseSecretPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert (secret["Action"], secret["Resource"]) == (
        "secretsmanager:GetSecretValue", {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]})


def test_the_ecr_repository_scans_and_expires_images():
    # moto's ECR takes neither ScanOnPush (it reads another key's case) nor LifecyclePolicy from a
    # template: asserted here, and the rendered policy is handed to moto's ECR, which validates it,
    # in test_the_stack_on_moto.
    properties = resource("Images")["Properties"]
    assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}
    rules = json.loads(lifecycle_policy(values()))["rules"]
    assert [(rule["selection"]["tagStatus"], rule["selection"]["countType"], rule["selection"]["countNumber"])
            for rule in rules] == [("untagged", "sinceImagePushed", 7), ("any", "imageCountMoreThan", 50)]


def lifecycle_policy(given: dict[str, str]) -> str:
    """The repository's lifecycle policy with the parameters' values in it, as CloudFormation renders it."""
    text = resource("Images")["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    return re.sub(r"\$\{(\w+)\}", lambda match: given[match.group(1)], text)


# --- alarms ----------------------------------------------------------------------------------------

# What each alarm the service needs watches: the <what> of its name <project>-<env>-<what>.
REQUIRED_ALARMS = {
    "web-5xx": "the share of web requests that end in a 5xx",
    "web-latency-p95": "the web requests' 95th percentile latency",
    "web-unhealthy-hosts": "web instances in Degraded or Severe health",
    "worker-unhealthy-hosts": "worker instances in Degraded or Severe health",
    "database-cpu": "the database's CPU",
    "database-free-storage": "the database's free storage",
    "database-connections": "the database's connections",
    "redis-memory": "Redis's memory",
    "queue-backlog": "the deepest Celery queue, or no report of it",
}
# What RDS and ElastiCache publish of what the alarms read (a non-cluster-mode Redis: by member).
RDS_METRICS = {"CPUUtilization", "FreeStorageSpace", "DatabaseConnections"}
ELASTICACHE_METRICS = {"DatabaseMemoryUsagePercentage"}
CONTAINER_LOG = "/var/log/eb-docker/containers/eb-current-app/stdouterr.log"


def alarms() -> dict[str, dict]:
    """The template's alarms by the <what> of their names."""
    found = {}
    for logical_id, spec in template()["Resources"].items():
        if spec["Type"] == "AWS::CloudWatch::Alarm":
            name = spec["Properties"]["AlarmName"]["Fn::Sub"]
            assert name.startswith("${ProjectName}-${EnvironmentName}-"), logical_id
            found[name.removeprefix("${ProjectName}-${EnvironmentName}-")] = spec["Properties"]
    return found


def metrics_of(alarm: dict) -> list[tuple[str, str, list[dict]]]:
    """(namespace, metric name, dimensions) of each metric an alarm reads."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", []))]
    stats = [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]
    return [(metric["Namespace"], metric["MetricName"], metric.get("Dimensions", [])) for metric in stats]


def health_metrics(environment: str) -> set[str]:
    """The metrics a Beanstalk environment of the template publishes: EnvironmentHealth with
    enhanced health, and those its ConfigDocument asks for (a period, not null)."""
    settings = options(environment)
    assert settings[("aws:elasticbeanstalk:healthreporting:system", "SystemType")] == "enhanced"
    document = json.loads(settings[("aws:elasticbeanstalk:healthreporting:system", "ConfigDocument")])
    assert document["Version"] == 1
    asked = document["CloudWatchMetrics"]["Environment"]
    assert all(period == 60 for period in asked.values())  # each minute, as the alarms' periods
    return {"EnvironmentHealth", *asked}


def publishes(namespace: str, metric: str, dimensions: list[dict]) -> str:
    """Which of the template's resources publishes the metric (an assertion fails if none does)."""
    resources = template()["Resources"]
    [dimension] = dimensions or [None]
    if namespace == "AWS/ElasticBeanstalk":
        environment = dimension["Value"]["Ref"]
        assert dimension["Name"] == "EnvironmentName"
        assert resources[environment]["Type"] == "AWS::ElasticBeanstalk::Environment"
        assert metric in health_metrics(environment), (environment, metric)
        return environment
    if namespace == "AWS/RDS":
        assert dimension["Name"] == "DBInstanceIdentifier" and metric in RDS_METRICS
        assert resources[dimension["Value"]["Ref"]]["Type"] == "AWS::RDS::DBInstance"
        return dimension["Value"]["Ref"]
    if namespace == "AWS/ElastiCache":
        assert dimension["Name"] == "CacheClusterId" and metric in ELASTICACHE_METRICS
        member = re.fullmatch(r"\$\{(\w+)\}-001", dimension["Value"]["Fn::Sub"])
        assert member, dimension  # the first member of a replication group
        group = member.group(1)
        properties = resources[group]["Properties"]
        # Members named <group>-001...: a replication group of NumCacheClusters, not cluster mode.
        assert resources[group]["Type"] == "AWS::ElastiCache::ReplicationGroup"
        assert "NumCacheClusters" in properties and "NumNodeGroups" not in properties
        assert properties["Engine"] == "redis"
        return group
    filters = [(logical_id, transformation) for logical_id, spec in resources.items()
               if spec["Type"] == "AWS::Logs::MetricFilter"
               for transformation in spec["Properties"]["MetricTransformations"]]
    [source] = [logical_id for logical_id, transformation in filters
                if (transformation["MetricNamespace"], transformation["MetricName"]) == (namespace, metric)
                and transformation.get("Dimensions", []) == dimensions]
    return source


def test_each_alarm_the_service_needs_exists_and_tells_the_topic_when_it_fires_and_recovers():
    found = alarms()
    assert set(REQUIRED_ALARMS) <= set(found)
    for what, alarm in found.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], what
        assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}], what
        assert alarm["AlarmDescription"], what
    assert resource("AlarmTopic")["Type"] == "AWS::SNS::Topic"
    assert not any("Condition" in resource(name) for name, spec in template()["Resources"].items()
                   if spec["Type"] == "AWS::CloudWatch::Alarm")  # all always there (aws.alarms)


def test_each_alarm_reads_a_metric_the_stacks_own_resources_publish():
    expected_sources = {
        "web-5xx": "WebEnvironment", "web-latency-p95": "WebEnvironment",
        "web-unhealthy-hosts": "WebEnvironment", "worker-unhealthy-hosts": "WorkerEnvironment",
        "database-cpu": "Database", "database-free-storage": "Database", "database-connections": "Database",
        "redis-memory": "Redis", "queue-backlog": "QueueDepthFilter"}
    found = alarms()
    for what, source in expected_sources.items():
        assert {publishes(*metric) for metric in metrics_of(found[what])} == {source}, what
    for what, alarm in found.items():  # the others too (the environments' health)
        assert all(publishes(*metric) for metric in metrics_of(alarm)), what
    # The metrics the environments are asked to publish are those the alarms read, no more (each
    # one is a custom metric, paid for).
    read = {(publishes(*metric), metric[1]) for alarm in found.values() for metric in metrics_of(alarm)}
    for environment in ("WebEnvironment", "WorkerEnvironment"):
        assert health_metrics(environment) == {metric for source, metric in read if source == environment}
    assert {metric[1] for metric in metrics_of(found["web-unhealthy-hosts"])} == {"InstancesDegraded",
                                                                                 "InstancesSevere"}


def test_metric_math_alarms_return_one_series_built_from_their_own_queries():
    for what, alarm in alarms().items():
        if "Metrics" not in alarm:
            continue
        assert not {"MetricName", "Namespace", "Statistic", "Period"} & alarm.keys(), what
        ids = {query["Id"] for query in alarm["Metrics"]}
        [result] = [query for query in alarm["Metrics"] if query["ReturnData"]]
        expression = result["Expression"]
        expression = expression["Fn::Sub"] if isinstance(expression, dict) else expression
        used = set(re.findall(r"\b([a-z]\w*)\b", expression)) - {"IF"}
        assert used and used <= ids - {result["Id"]}, (what, expression)
        assert all(query["MetricStat"]["Period"] == 60 for query in alarm["Metrics"] if "MetricStat" in query)
    found = alarms()
    assert found["web-5xx"]["Metrics"][2]["Expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    # free storage as a share of what is allocated, so that the threshold holds as storage grows
    assert found["database-free-storage"]["Metrics"][1]["Expression"] == {
        "Fn::Sub": "100 * free / (${DBAllocatedStorage} * 1073741824)"}


def test_every_new_alarm_takes_its_threshold_and_window_from_the_environments_parameters():
    declared, given, found = template()["Parameters"], values(), alarms()
    for what in REQUIRED_ALARMS:
        alarm = found[what]
        threshold, window = alarm["Threshold"]["Ref"], alarm["EvaluationPeriods"]["Ref"]
        assert alarm["DatapointsToAlarm"] == {"Ref": window}  # every minute of the window
        assert declared[threshold]["Type"] == declared[window]["Type"] == "Number"
        assert {"MinValue", "MaxValue"} <= declared[threshold].keys()
        assert all(float(minutes).is_integer() for minutes in declared[window]["AllowedValues"])
        assert threshold in given and window in given  # production.json sets both
        assert alarm.get("Period", 60) == 60, what  # so that the window is in minutes


def test_missing_data_breaches_only_the_queue_backlog_alarm():
    treatment = {what: alarm["TreatMissingData"] for what, alarm in alarms().items()}
    assert treatment.pop("queue-backlog") == "breaching"  # no report: beat or the worker is down
    assert treatment.pop("web-5xx") == treatment.pop("web-latency-p95") == "notBreaching"  # no traffic
    assert set(treatment.values()) == {"missing"}


def test_the_queue_depth_filters_read_the_log_group_the_workers_container_output_reaches():
    from ops.aws.target import Target

    group = resource("WorkerLogGroup")
    environment_name = resource("WorkerEnvironment")["Properties"]["EnvironmentName"]["Fn::Sub"]
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Sub": f"/aws/elasticbeanstalk/{environment_name}{CONTAINER_LOG}"}
    # ...the group `invoke logs --role worker` reads, for the same names
    target = Target(stack=STACK, url="", application="", web=f"{STACK}-web", worker=f"{STACK}-worker",
                    repository="", repository_uri="", migrate_project="", deploy_table="")
    rendered = group["Properties"]["LogGroupName"]["Fn::Sub"].replace("${ProjectName}", PROJECT).replace(
        "${EnvironmentName}", ENV)
    assert rendered == target.log_group("worker")
    # Made before the worker environment streams to it, kept as Beanstalk keeps its own groups.
    assert "WorkerLogGroup" in resource("WorkerEnvironment")["DependsOn"]
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert options("WorkerEnvironment")[("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs")] == "true"
    # The instances may write to it.
    [container_logs] = [statement for statement in resource("InstanceRole")["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"] if statement["Sid"] == "ContainerLogs"]
    allowed = container_logs["Resource"]["Fn::Sub"].split(":log-group:")[1]
    assert fnmatch.fnmatchcase(group["Properties"]["LogGroupName"]["Fn::Sub"], allowed)
    filters = {logical_id: spec["Properties"] for logical_id, spec in template()["Resources"].items()
               if spec["Type"] == "AWS::Logs::MetricFilter"}
    assert set(filters) == {"QueueDepthFilter", "QueueDepthByQueueFilter"}
    assert all(spec["LogGroupName"] == {"Ref": "WorkerLogGroup"} for spec in filters.values())


def filter_matches(pattern: str, line: str) -> bool:
    """CloudWatch Logs' JSON filter pattern `{ $.field = "text" }` (the form the template uses; any
    other form fails the test) applied to one log line."""
    match = re.fullmatch(r'\{\s*\$\.(\w+)\s*=\s*"([^"*]*)"\s*\}', pattern)
    assert match, f"not a one-field JSON pattern: {pattern}"
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get(match.group(1)) == match.group(2)


def selected(selector: str, line: str):
    """The field a `$.field` selector picks from a JSON line."""
    assert re.fullmatch(r"\$\.\w+", selector), selector
    return json.loads(line)[selector[2:]]


def test_the_queue_depth_pattern_picks_the_workers_queue_depth_lines_and_their_depth():
    # A line as the contract has the worker write it (LOG_FORMAT=json: one object per line).
    reported = json.dumps({"time": "2025-06-01T10:00:00.123456Z", "level": "info",
                           "logger": "application_service.beat", "message": "queue_depth",
                           "request_id": None, "queue": "celery", "depth": 42})
    others = [json.dumps({"time": "2025-06-01T10:00:01Z", "level": "info", "logger": "django.request",
                          "message": "request_finished", "request_id": "f" * 32, "user_id": None,
                          "method": "GET", "path": "/queue_depth", "status": 200, "duration_ms": 3.1}),
              "celery@worker ready.", "queue_depth 42", json.dumps({"message": "queue_depth_sweep"})]
    for logical_id in ("QueueDepthFilter", "QueueDepthByQueueFilter"):
        properties = resource(logical_id)["Properties"]
        assert filter_matches(properties["FilterPattern"], reported), logical_id
        assert not [line for line in others if filter_matches(properties["FilterPattern"], line)], logical_id
        [transformation] = properties["MetricTransformations"]
        assert selected(transformation["MetricValue"], reported) == 42
        assert "DefaultValue" not in transformation  # no line must stay no data: the alarm's "down"
        for dimension in transformation.get("Dimensions", []):
            assert (dimension["Key"], selected(dimension["Value"], reported)) == ("Queue", "celery")
    by_queue = resource("QueueDepthByQueueFilter")["Properties"]["MetricTransformations"][0]
    assert by_queue["Dimensions"] == [{"Key": "Queue", "Value": "$.queue"}]
    backlog = alarms()["queue-backlog"]
    [transformation] = resource("QueueDepthFilter")["Properties"]["MetricTransformations"]
    assert "Dimensions" not in backlog and "Dimensions" not in transformation
    assert (backlog["Namespace"], backlog["MetricName"], backlog["Statistic"]) == (
        transformation["MetricNamespace"], transformation["MetricName"], "Maximum")  # the deepest queue's


# --- the stack on moto ---------------------------------------------------------------------------

def test_for_moto_takes_out_only_what_moto_cannot_create():
    original, rendered = template(), for_moto(template())
    assert set(original["Outputs"]) - set(rendered["Outputs"]) == {"RedisEndpoint"}
    del original["Resources"]["Database"]["Properties"]["DBParameterGroupName"]
    assert original["Resources"] == rendered["Resources"]


def test_the_stack_on_moto(aws):
    stack = create_stack()
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    assert outputs["Url"] == "http://little-service-production.eu-west-1.elasticbeanstalk.com"
    assert outputs["EcrRepositoryName"] == STACK
    assert outputs["EcrRepositoryUri"] == f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{STACK}"
    assert outputs["SecretsPath"] == "/little-service/production/"
    assert outputs["AlarmTopicArn"] == f"arn:aws:sns:{REGION}:123456789012:{STACK}-alarms"
    assert outputs["ArtifactBucket"] == f"{STACK}-artifacts-123456789012"
    assert outputs["DatabaseEndpoint"].startswith(f"{STACK}.")
    # MigrateProjectName is a Ref to a CodeBuild project, which moto does not model.
    assert template()["Outputs"]["MigrateProjectName"]["Value"] == {"Ref": "MigrateProject"}
    assert outputs["DeployTableName"] == f"{STACK}-deploys"
    # The worker's container log group, which the queue depth filters read (moto does not model
    # the filters nor the alarms: asserted on the template, above).
    worker_logs = f"/aws/elasticbeanstalk/{STACK}-worker{CONTAINER_LOG}"
    [group] = boto3.client("logs", region_name=REGION).describe_log_groups(
        logGroupNamePrefix=worker_logs)["logGroups"]
    assert (group["logGroupName"], group["retentionInDays"]) == (worker_logs, 30)
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=f"{STACK}-deploys")["Table"]
    assert [key["AttributeName"] for key in table["KeySchema"]] == ["Environment", "Entry"]

    ecr = boto3.client("ecr", region_name=REGION)
    [repository] = ecr.describe_repositories(repositoryNames=[STACK])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    ecr.put_lifecycle_policy(repositoryName=STACK, lifecyclePolicyText=lifecycle_policy(values()))
    held = ecr.get_lifecycle_policy(repositoryName=STACK)["lifecyclePolicyText"]
    assert len(json.loads(held)["rules"]) == 2

    codebuild = inline_policies(f"{STACK}-codebuild")
    pushing = [statement for statement in codebuild if ECR_PUSH & set(as_list(statement["Action"]))]
    assert pushing and all(as_list(statement["Resource"]) == [repository["repositoryArn"]]
                           for statement in pushing)
    assert {action for statement in pushing for action in as_list(statement["Action"])} >= ECR_PUSH
    assert [statement["Resource"] for statement in codebuild
            if "ecr:GetAuthorizationToken" in as_list(statement["Action"])] == ["*"]

    instance = inline_policies(f"{STACK}-instance")
    reading = [statement for statement in instance
               if any(action.startswith("ssm:") for action in as_list(statement["Action"]))]
    assert [as_list(statement["Resource"]) for statement in reading] == [
        [f"arn:aws:ssm:{REGION}:123456789012:parameter/little-service/production/*"]]
    assert {action for statement in reading for action in as_list(statement["Action"])} == {
        "ssm:GetParameter", "ssm:GetParameters"}
    pulling = [statement for statement in instance if "ecr:BatchGetImage" in as_list(statement["Action"])]
    assert [as_list(statement["Resource"]) for statement in pulling] == [[repository["repositoryArn"]]]
    assert not [statement for statement in instance if ECR_PUSH & set(as_list(statement["Action"]))]
    boto3.client("iam").get_instance_profile(InstanceProfileName=f"{STACK}-instance")

    rds = boto3.client("rds", region_name=REGION)
    [database] = rds.describe_db_instances(DBInstanceIdentifier=STACK)["DBInstances"]
    assert database["StorageEncrypted"] is True  # DeletionProtection: moto drops it, see above
    assert (database["Engine"], database["DBName"], database["MultiAZ"],
            database["BackupRetentionPeriod"]) == ("mysql", "little_service", True, 14)
    assert database["DBSubnetGroup"]["DBSubnetGroupName"] == STACK
    [group] = [group for group in rds.describe_db_parameter_groups()["DBParameterGroups"]
               if group["DBParameterGroupFamily"] == "mysql8.0"]
    set_values = {parameter["ParameterName"]: parameter["ParameterValue"] for parameter in
                  rds.describe_db_parameters(DBParameterGroupName=group["DBParameterGroupName"])["Parameters"]}
    assert set_values["character_set_server"] == "utf8mb4"
    assert set_values["collation_server"] == "utf8mb4_unicode_ci"


def test_on_moto_each_security_group_lets_in_only_its_clients(aws):
    create_stack()
    ec2 = boto3.client("ec2", region_name=REGION)
    groups = {group["GroupName"].removeprefix(f"{STACK}-"): group
              for group in ec2.describe_security_groups()["SecurityGroups"]
              if group["GroupName"].startswith(STACK)}
    ids = {name: group["GroupId"] for name, group in groups.items()}

    def ingress(name):
        return sorted((rule["FromPort"], tuple(sorted(pair["GroupId"] for pair in rule["UserIdGroupPairs"])),
                       tuple(ip["CidrIp"] for ip in rule["IpRanges"]))
                      for rule in groups[name]["IpPermissions"])

    assert ingress("load-balancer") == [(80, (), ("0.0.0.0/0",)), (443, (), ("0.0.0.0/0",))]
    assert ingress("web") == [(80, (ids["load-balancer"],), ())]
    assert ingress("worker") == []
    clients = tuple(sorted((ids["web"], ids["worker"])))
    assert ingress("database") == [(3306, clients, ())]
    assert ingress("redis") == [(6379, clients, ())]
    # Egress rules (inline and AWS::EC2::SecurityGroupEgress) are not modelled by moto's
    # CloudFormation: the template says them.
    database_egress = resource("DatabaseSecurityGroup")["Properties"]["SecurityGroupEgress"]
    assert [rule["CidrIp"] for rule in database_egress] == ["127.0.0.1/32"]
    egress = {(spec["Properties"]["GroupId"]["Ref"], spec["Properties"]["FromPort"],
               spec["Properties"]["DestinationSecurityGroupId"]["Ref"])
              for spec in template()["Resources"].values() if spec["Type"] == "AWS::EC2::SecurityGroupEgress"}
    assert egress == {("LoadBalancerSecurityGroup", 80, "WebSecurityGroup"),
                      ("WebSecurityGroup", 3306, "DatabaseSecurityGroup"),
                      ("WebSecurityGroup", 6379, "RedisSecurityGroup"),
                      ("WorkerSecurityGroup", 3306, "DatabaseSecurityGroup"),
                      ("WorkerSecurityGroup", 6379, "RedisSecurityGroup")}
    vpc = groups["web"]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len(subnets) == 4 and len({subnet["AvailabilityZone"] for subnet in subnets}) == 2
    assert len(ec2.describe_nat_gateways()["NatGateways"]) == 2  # NatGateways "2": one per zone


def stack_resources() -> set[str]:
    """The logical ids of the stack's resources moto models (it lists the others without one)."""
    summaries = boto3.client("cloudformation", region_name=REGION).list_stack_resources(
        StackName=STACK)["StackResourceSummaries"]
    return {summary["LogicalResourceId"] for summary in summaries} - {""}


def test_on_moto_without_a_connection_there_is_no_pipeline(aws):
    create_stack()
    roles = {role["RoleName"] for role in boto3.client("iam").list_roles()["Roles"]}
    assert {f"{STACK}-instance", f"{STACK}-codebuild", f"{STACK}-beanstalk"} <= roles
    assert f"{STACK}-codepipeline" not in roles
    assert {"NatGatewayA", "NatGatewayB", "InstanceProfile", "Database"} <= stack_resources()
    # Pipeline (CodePipeline) and AlarmEmailSubscription (SNS) are not modelled by moto's
    # CloudFormation: their conditions are read in the template.
    conditioned = {name: spec.get("Condition") for name, spec in template()["Resources"].items()}
    assert conditioned["Pipeline"] == conditioned["PipelineRole"] == "HasSourceConnection"
    assert conditioned["AlarmEmailSubscription"] == "HasAlarmEmail"
    assert template()["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def test_on_moto_a_connection_adds_the_pipelines_role_and_one_nat_gateway_can_serve_both_zones(aws):
    connection = f"arn:aws:codeconnections:{REGION}:123456789012:connection/0f1e2d3c-aaaa-bbbb-cccc-0123"
    create_stack(SourceConnectionArn=connection, NatGateways="1")
    assert "PipelineRole" in stack_resources()
    assert not {"NatGatewayB", "NatAddressB"} & stack_resources()
    pipeline = inline_policies(f"{STACK}-codepipeline")
    assert [as_list(statement["Resource"]) for statement in pipeline
            if "codestar-connections:UseConnection" in as_list(statement["Action"])] == [[connection]]
    # The build and deploy projects only (moto leaves the name of a project, a resource it does not
    # model, unresolved).
    assert [statement["Resource"] for statement in pipeline
            if "codebuild:StartBuild" in statement["Action"]] == [[
        f"arn:aws:codebuild:{REGION}:123456789012:project/${{BuildProject}}",
        f"arn:aws:codebuild:{REGION}:123456789012:project/${{DeployProject}}"]]
    assert "DeployRole" in stack_resources()
    deploy = inline_policies(f"{STACK}-deploy")
    [locks] = [statement for statement in deploy if statement["Sid"] == "Locks"]
    assert as_list(locks["Resource"]) == [f"arn:aws:dynamodb:{REGION}:123456789012:table/{STACK}-deploys"]



def test_redis_needs_tls_and_an_auth_token_the_instances_get_as_a_secret():
    properties = resource("Redis")["Properties"]
    assert properties["TransitEncryptionEnabled"] is True
    assert properties["AuthToken"] == {"Fn::Sub": "{{resolve:secretsmanager:${RedisAuth}}}"}
    generated = resource("RedisAuth")["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32 and generated["ExcludePunctuation"] is True
    for environment in ("WebEnvironment", "WorkerEnvironment"):
        settings = options(environment)
        assert settings[("aws:elasticbeanstalk:application:environmentsecrets", "REDIS_PASSWORD")] == {
            "Ref": "RedisAuth"}
        url = settings[("aws:elasticbeanstalk:application:environment", "REDIS_URL")]["Fn::Sub"]
        assert url.startswith("rediss://") and "@" not in url  # the token is never in a plain setting
    policy = resource("InstanceDatabaseSecretPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert {"Sid": "RedisAuth", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
            "Resource": {"Ref": "RedisAuth"}} in policy


def optional_secrets(environment: str) -> dict[str, str]:
    """The secrets an environment gets only under a condition: name -> the condition."""
    found = {}
    for setting in resource(environment)["Properties"]["OptionSettings"]:
        if "Fn::If" in setting:
            condition, chosen, otherwise = setting["Fn::If"]
            if chosen["Namespace"] == "aws:elasticbeanstalk:application:environmentsecrets":
                assert otherwise == {"Ref": "AWS::NoValue"}
                assert chosen["Value"] == {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:"
                                                      "${AWS::AccountId}:parameter/${ProjectName}/"
                                                      f"${{EnvironmentName}}/{chosen['OptionName']}"}
                found[chosen["OptionName"]] = condition
    return found


def test_sentry_and_the_metrics_token_arrive_only_once_their_parameters_say_they_are_stored():
    """An environment secret whose parameter does not exist stops the environment: SENTRY_DSN
    (web and worker) and METRICS_TOKEN (web) are there only when ErrorReporting and MetricsScraping
    say so; production.json leaves both off until the team stores them."""
    assert optional_secrets("WebEnvironment") == {"SENTRY_DSN": "ReportsErrors",
                                                  "METRICS_TOKEN": "ServesMetrics"}
    assert optional_secrets("WorkerEnvironment") == {"SENTRY_DSN": "ReportsErrors"}
    conditions = template()["Conditions"]
    assert conditions["ReportsErrors"] == {"Fn::Equals": [{"Ref": "ErrorReporting"}, "true"]}
    assert conditions["ServesMetrics"] == {"Fn::Equals": [{"Ref": "MetricsScraping"}, "true"]}
    parameters = production()["Parameters"]
    assert (parameters["ErrorReporting"], parameters["MetricsScraping"]) == ("false", "false")
    # The instances may read them: every secret under the environment's path.
    assert "parameter/${ProjectName}/${EnvironmentName}/*" in TEMPLATE_PATH.read_text()
