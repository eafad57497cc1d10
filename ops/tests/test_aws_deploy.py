"""`invoke deploy` and `rollback`: the scenarios of a deploy, each asserting what was called and
what the user saw.

moto serves ECR, S3, CodeBuild, CloudWatch Logs and DynamoDB; Beanstalk's version, update, event
and health calls are missing there, so botocore's Stubber scripts them (every request is still
checked against the real API model, and every scripted answer must be asked for: the test ends
with none left). The load balancer is a real HTTP server on 127.0.0.1 answering /healthz with
the versions a scenario scripts.
"""

from __future__ import annotations

import http.server
import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ops.aws import history
from ops.aws.deploy import Clients, Deployer, DeployFailed, Options, require_image
from ops.aws.target import Target
from ops.errors import UserError
from ops.images import dockerrun
from ops.testing import FakeClock, StandInHandler, stand_in_server

REGION = "eu-west-1"
ACCOUNT = "123456789012"
APP, WEB, WORKER = ("little-service-production", "little-service-production-web",
                    "little-service-production-worker")
EB_BUCKET = f"elasticbeanstalk-{REGION}-{ACCOUNT}"
TABLE = "little-service-production-deploys"
MIGRATE = "little-service-production-migrate"
REPOSITORY_NAME = "little-service-production"
URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY_NAME}"
OLD, NEW = "0123456789ab", "ba9876543210"
BY = "dev@example.com on laptop"
OPTIONS = Options(timeout=60, migrate_timeout=60, answer_timeout=20, bake=20, interval=10,
                  max_5xx_percent=1.0, version_reads=3, http_timeout=2, report_every=60)


# --- the load balancer ---------------------------------------------------------------------------

class LoadBalancer(http.server.ThreadingHTTPServer):
    """Answers GET /healthz with the next scripted version in X-App-Version (the last one repeats)."""

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.versions: list[str] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_version(self) -> str:
        return self.versions.pop(0) if len(self.versions) > 1 else self.versions[0]


class Probe(StandInHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.paths.append(self.path)
        self.reply(b'{"status": "ok"}', headers={"X-App-Version": self.server.next_version()})


@pytest.fixture
def balancer():
    with stand_in_server(Probe, LoadBalancer) as server:
        yield server


# --- AWS: moto for what it serves, a Stubber for Beanstalk ---------------------------------------

@pytest.fixture
def account(aws):
    """The environment's resources a deploy uses, in moto: the image repository with OLD and NEW,
    Beanstalk's bucket, the deploy table, the migrations project and its log group."""
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName=REPOSITORY_NAME, imageTagMutability="IMMUTABLE")
    for tag in (OLD, NEW):
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"digest": f"sha256:{tag * 5}{tag[:4]}", "size": 1,
                               "mediaType": "application/vnd.docker.container.image.v1+json"}, "layers": []}
        ecr.put_image(repositoryName=REPOSITORY_NAME, imageManifest=json.dumps(manifest), imageTag=tag)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=EB_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "Environment", "AttributeType": "S"},
                                                {"AttributeName": "Entry", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "Environment", "KeyType": "HASH"},
                                     {"AttributeName": "Entry", "KeyType": "RANGE"}])
    codebuild = boto3.client("codebuild", region_name=REGION)
    codebuild.create_project(name=MIGRATE, source={"type": "NO_SOURCE", "location": "none",
                                                   "buildspec": "version: 0.2"},
                             artifacts={"type": "NO_ARTIFACTS"},
                             environment={"type": "LINUX_CONTAINER", "image": f"{URI}:deploy-sets-this",
                                          "computeType": "BUILD_GENERAL1_SMALL"},
                             serviceRole=f"arn:aws:iam::{ACCOUNT}:role/{MIGRATE}")
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=f"/aws/codebuild/{MIGRATE}")
    return {"ecr": ecr, "s3": s3, "dynamodb": dynamodb, "codebuild": codebuild, "logs": logs}


def target(url: str) -> Target:
    return Target(stack=APP, url=url, application=APP, web=WEB, worker=WORKER, repository=REPOSITORY_NAME,
                  repository_uri=URI, migrate_project=MIGRATE, deploy_table=TABLE)


def at(seconds: float) -> datetime:
    return datetime(2026, 11, 30, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds)


class Beanstalk:
    """Beanstalk's answers, scripted in the order the deploy asks for them."""

    def __init__(self):
        self.client = boto3.client("elasticbeanstalk", region_name=REGION)
        self.stub = Stubber(self.client)
        self.stub.activate()

    def environments(self, web: tuple, worker: tuple):
        """One reading of both environments: (status, color, version[, instances]) each."""
        self.stub.add_response("describe_environments", {"Environments": [
            {"EnvironmentName": name, "ApplicationName": APP, "Status": status, "Health": color,
             "VersionLabel": version}
            for name, (status, color, version, *_) in ((WEB, web), (WORKER, worker))]},
            {"EnvironmentNames": [WEB, WORKER], "IncludeDeleted": False})
        for name, (status, color, _, *instances) in ((WEB, web), (WORKER, worker)):
            counts = instances[0] if instances else {"Ok": 2}
            self.stub.add_response("describe_environment_health", {
                "EnvironmentName": name, "Status": status, "Color": color,
                "HealthStatus": {"Green": "Ok", "Yellow": "Warning", "Red": "Severe"}.get(color, "Unknown"),
                "InstancesHealth": counts},
                {"EnvironmentName": name, "AttributeNames": ["HealthStatus", "InstancesHealth"]})

    def events(self, *events: tuple[float, str, str, str]):
        """Beanstalk's events since the deploy began: (seconds, severity, environment, message)."""
        self.stub.add_response("describe_events", {"Events": [
            {"EventDate": at(when), "Severity": severity, "EnvironmentName": name, "ApplicationName": APP,
             "Message": message} for when, severity, name, message in events]},
            {"ApplicationName": APP, "StartTime": ANY, "MaxRecords": 100})

    def poll(self, web: tuple, worker: tuple, *events):
        self.environments(web, worker)
        self.events(*events)

    def metrics(self, requests: int, errors: int):
        self.stub.add_response("describe_environment_health", {"EnvironmentName": WEB, "ApplicationMetrics": {
            "Duration": 10, "RequestCount": requests,
            "StatusCodes": {"Status2xx": requests - errors, "Status3xx": 0, "Status4xx": 0,
                            "Status5xx": errors}}},
            {"EnvironmentName": WEB, "AttributeNames": ["ApplicationMetrics"]})

    def register(self, version: str):
        self.stub.add_response("describe_application_versions", {"ApplicationVersions": []},
                               {"ApplicationName": APP, "VersionLabels": [version]})
        self.stub.add_response("create_storage_location", {"S3Bucket": EB_BUCKET}, {})
        self.stub.add_response("create_application_version", {"ApplicationVersion": {
            "ApplicationName": APP, "VersionLabel": version}}, {
            "ApplicationName": APP, "VersionLabel": version, "Description": ANY,
            "SourceBundle": {"S3Bucket": EB_BUCKET, "S3Key": f"{APP}/{version}.zip"}, "Process": False})

    def update(self, name: str, version: str):
        self.stub.add_response("update_environment", {"EnvironmentName": name, "Status": "Updating",
                                                      "VersionLabel": version},
                               {"EnvironmentName": name, "VersionLabel": version})

    def abort(self, name: str):
        self.stub.add_response("abort_environment_update", {}, {"EnvironmentName": name})


READY_OLD = ("Ready", "Green", OLD)
READY_NEW = ("Ready", "Green", NEW)
UPDATING = ("Updating", "Grey", OLD, {"Ok": 2, "Pending": 2})


def deployer(account, beanstalk, balancer, codebuild=None, options=OPTIONS):
    clients = Clients(beanstalk.client, account["s3"], account["ecr"], codebuild or account["codebuild"],
                      account["logs"], account["dynamodb"])
    clock = FakeClock()
    out = io.StringIO()
    return Deployer(clients, target(balancer.url), "production", options=options, out=out, clock=clock,
                    sleep=clock.sleep, now=lambda: at(0)), out


def run_deploy(account, beanstalk, balancer, **options):
    worker, out = deployer(account, beanstalk, balancer, **options)
    error = None
    try:
        worker.deploy(version=NEW, image=f"{URI}:{NEW}", dockerrun=dockerrun(f"{URI}:{NEW}"), by=BY)
    except DeployFailed as exc:
        error = str(exc)
    beanstalk.stub.assert_no_pending_responses()
    return out.getvalue(), error


def start_of_deploy(beanstalk: Beanstalk):
    """Before the migrations: the environments read (both Ready on OLD) and NEW registered."""
    beanstalk.environments(READY_OLD, READY_OLD)
    beanstalk.register(NEW)


def rollout_to_new(beanstalk: Beanstalk):
    beanstalk.update(WEB, NEW)
    beanstalk.update(WORKER, NEW)
    beanstalk.poll(("Updating", "Grey", OLD, {"Ok": 2, "Pending": 2}), UPDATING,
                   (5, "INFO", WEB, "Environment update is starting."))
    beanstalk.poll(("Updating", "Green", NEW, {"Ok": 4}), ("Updating", "Green", NEW))
    beanstalk.poll(READY_NEW, READY_NEW, (70, "INFO", WEB, "Environment update completed successfully."))


def deploys(account) -> list[history.Record]:
    return history.recent(account["dynamodb"], TABLE, "production")


def migration_builds(account) -> list[str]:
    return account["codebuild"].list_builds_for_project(projectName=MIGRATE)["ids"]


# --- scenarios -------------------------------------------------------------------------------------

def test_a_healthy_rollout_migrates_updates_gates_bakes_and_records(account, balancer):
    beanstalk = Beanstalk()
    start_of_deploy(beanstalk)
    rollout_to_new(beanstalk)
    balancer.versions = [NEW]
    for requests in (120, 80, 95):  # the bake: 20 s, a poll every 10 s
        beanstalk.poll(READY_NEW, READY_NEW)
        beanstalk.metrics(requests, 0)

    out, error = run_deploy(account, beanstalk, balancer)

    assert error is None, out
    assert f"deploying {NEW} to production" in out
    assert f"lock: production is held by this deploy ({BY})" in out
    assert f"version {NEW}: registered" in out
    assert out.index("migrations: done") < out.index(f"updating web ({WEB}) to {NEW}")
    assert f"updating worker ({WORKER}) to {NEW}" in out
    assert "Environment update is starting." in out
    assert ("rollout [0m00s] web Updating, Grey (Unknown), version 0123456789ab, "
            "instances: 2 ok, 2 pending") in out
    assert f"gate: {NEW} answers at {balancer.url} (3 reads in a row)" in out
    assert "bake: 295 requests, 0 answered 5xx" in out
    assert f"deployed {NEW} to production in" in out
    assert set(balancer.paths) == {"/healthz"} and len(balancer.paths) == 3
    # The migrations ran once, as a build of the migrations project; the bundle holds the artifact.
    assert len(migration_builds(account)) == 1
    bundle = account["s3"].get_object(Bucket=EB_BUCKET, Key=f"{APP}/{NEW}.zip")["Body"].read()
    import zipfile

    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        assert json.loads(archive.read("Dockerrun.aws.json")) == dockerrun(f"{URI}:{NEW}")
    [record] = deploys(account)
    assert (record.action, record.version, record.who, record.outcome) == ("deploy", NEW, BY, "succeeded")
    assert history.holder(account["dynamodb"], TABLE, "production") is None  # the lock is let go


def rollback_to_old(beanstalk: Beanstalk):
    """The automatic rollback from NEW: nothing Updating, back to OLD on both, healthy."""
    beanstalk.environments(READY_NEW, READY_NEW)  # is anything Updating (to abort)?
    beanstalk.poll(READY_NEW, READY_NEW)  # all Ready
    beanstalk.update(WEB, OLD)
    beanstalk.update(WORKER, OLD)
    beanstalk.poll(("Updating", "Grey", NEW), ("Updating", "Grey", NEW))
    beanstalk.poll(READY_OLD, READY_OLD)


def test_an_error_event_mid_rollout_rolls_both_back(account, balancer):
    beanstalk = Beanstalk()
    start_of_deploy(beanstalk)
    beanstalk.update(WEB, NEW)
    beanstalk.update(WORKER, NEW)
    beanstalk.poll(UPDATING, UPDATING, (5, "INFO", WEB, "Environment update is starting."))
    beanstalk.poll(("Updating", "Red", OLD), UPDATING,
                   (40, "ERROR", WEB, "Failed to deploy application: the new instances failed "
                                      "health checks."))
    # rollback: web still Updating (aborted), then both Ready; web is back on OLD by itself, the
    # worker (which finished on NEW) is updated back.
    beanstalk.environments(("Updating", "Red", OLD), ("Ready", "Green", NEW))
    beanstalk.abort(WEB)
    beanstalk.poll(READY_OLD, READY_NEW)
    beanstalk.update(WORKER, OLD)
    beanstalk.poll(READY_OLD, ("Updating", "Grey", NEW), (50, "ERROR", WEB, "Aborted the update."))
    beanstalk.poll(READY_OLD, READY_OLD)
    balancer.versions = [OLD]

    out, error = run_deploy(account, beanstalk, balancer)

    assert error == (f"The deploy of {NEW} failed: Beanstalk reported an error on {WEB}: Failed to deploy "
                     f"application: the new instances failed health checks. It was rolled back: web {OLD}, "
                     f"worker {OLD}, healthy again.")
    assert f"rollback: aborting the update of web ({WEB})" in out
    assert f"updating worker ({WORKER}) to {OLD}" in out
    assert f"updating web ({WEB}) to {OLD}" not in out  # already back on OLD
    assert f"gate: {OLD} answers" in out
    [record] = deploys(account)
    assert (record.outcome, record.version) == ("rolled back", NEW)
    assert "Failed to deploy application" in record.detail


def test_health_that_never_recovers_is_rolled_back_at_the_timeout(account, balancer):
    beanstalk = Beanstalk()
    start_of_deploy(beanstalk)
    beanstalk.update(WEB, NEW)
    beanstalk.update(WORKER, NEW)
    for _ in range(7):  # 0, 10, ... 60 s: the timeout
        beanstalk.poll(("Updating", "Red", OLD, {"Severe": 2, "Ok": 2}), UPDATING)
    beanstalk.environments(("Updating", "Red", OLD), UPDATING)
    beanstalk.abort(WEB)
    beanstalk.abort(WORKER)
    beanstalk.poll(READY_OLD, READY_OLD)
    beanstalk.poll(READY_OLD, READY_OLD)  # the gate: already on OLD, nothing to update
    balancer.versions = [OLD]

    out, error = run_deploy(account, beanstalk, balancer)

    assert error.startswith(f"The deploy of {NEW} failed: the environments were not healthy within 60s (web "
                            f"Updating, Red (Severe), version {OLD}, instances: 2 ok, 2 severe")
    assert error.endswith(f"It was rolled back: web {OLD}, worker {OLD}, healthy again.")
    assert "update_environment" not in out
    # the first reading, then one more at 60 s (nothing changed before)
    assert out.count("rollout [") == 1 + 1
    assert deploys(account)[0].outcome == "rolled back"


def test_the_old_version_answering_after_ready_is_rolled_back(account, balancer):
    beanstalk = Beanstalk()
    start_of_deploy(beanstalk)
    rollout_to_new(beanstalk)
    balancer.versions = [OLD]  # the load balancer still reaches the old code
    rollback_to_old(beanstalk)

    out, error = run_deploy(account, beanstalk, balancer)

    assert error == (f"The deploy of {NEW} failed: version {OLD} answered through the load balancer, "
                     f"not {NEW}. It was rolled back: web {OLD}, worker {OLD}, healthy again.")
    assert f"updating web ({WEB}) to {OLD}" in out and f"updating worker ({WORKER}) to {OLD}" in out
    assert "bake:" not in out


def test_5xx_in_the_bake_time_is_rolled_back(account, balancer):
    beanstalk = Beanstalk()
    start_of_deploy(beanstalk)
    rollout_to_new(beanstalk)
    balancer.versions = [NEW, NEW, NEW, OLD]
    beanstalk.poll(READY_NEW, READY_NEW)
    beanstalk.metrics(200, 1)  # 0.5 %: within the limit
    beanstalk.poll(READY_NEW, READY_NEW)
    beanstalk.metrics(100, 9)  # 10 of 300: 3.3 %
    rollback_to_old(beanstalk)

    out, error = run_deploy(account, beanstalk, balancer)

    assert error == (f"The deploy of {NEW} failed: 10 of 300 requests answered 5xx in the bake time "
                     f"(3.3%, more than 1%). It was rolled back: web {OLD}, worker {OLD}, healthy again.")
    assert "bake: watching 5xx answers and health for 20s" in out
    assert deploys(account)[0].outcome == "rolled back"


BUILD_ID = f"{MIGRATE}:0f0e0d0c"


def failing_migrations(account, *messages: str):
    """A CodeBuild client whose migrations run fails, scripted (moto's builds always succeed); the
    run's log, `messages`, in moto's CloudWatch Logs."""
    codebuild = boto3.client("codebuild", region_name=REGION)
    stub = Stubber(codebuild)
    stub.add_response("start_build", {"build": {"id": BUILD_ID, "buildStatus": "IN_PROGRESS"}}, {
        "projectName": MIGRATE, "imageOverride": f"{URI}:{NEW}",
        "imagePullCredentialsTypeOverride": "SERVICE_ROLE", "environmentVariablesOverride": []})
    stub.add_response("batch_get_builds", {"builds": [{"id": BUILD_ID, "buildStatus": "IN_PROGRESS",
                                                       "currentPhase": "BUILD"}]}, {"ids": [BUILD_ID]})
    logs = {"groupName": f"/aws/codebuild/{MIGRATE}", "streamName": "0f0e0d0c"}
    stub.add_response("batch_get_builds", {"builds": [{"id": BUILD_ID, "buildStatus": "FAILED",
                                                       "currentPhase": "COMPLETED", "logs": logs}]},
                      {"ids": [BUILD_ID]})
    stub.activate()
    account["logs"].create_log_stream(logGroupName=logs["groupName"], logStreamName=logs["streamName"])
    now = int(datetime.now(UTC).timestamp() * 1000)
    account["logs"].put_log_events(logGroupName=logs["groupName"], logStreamName=logs["streamName"],
                                   logEvents=[{"timestamp": now + index, "message": message}
                                              for index, message in enumerate(messages)])
    return codebuild, stub


def test_a_failed_migration_rolls_nothing_out_and_says_so(account, balancer):
    beanstalk = Beanstalk()
    start_of_deploy(beanstalk)
    codebuild, stub = failing_migrations(
        account, "Applying application.0007_counter_note...",
        "django.db.utils.OperationalError: (1054, \"Unknown column 'x'\")")

    out, error = run_deploy(account, beanstalk, balancer, codebuild=codebuild)

    stub.assert_no_pending_responses()
    assert error.startswith(f"The migrations of {NEW} ended FAILED (build {BUILD_ID}); nothing was rolled "
                            f"out: web still runs {OLD}, worker still runs {OLD}.")
    assert error.endswith("Its last lines:\n  | Applying application.0007_counter_note...\n"
                          "  | django.db.utils.OperationalError: (1054, \"Unknown column 'x'\")")
    assert "updating" not in out  # no update_environment was scripted, and none was made
    assert "migrations: build" in out and "migrations: build\n" in out  # the phase, as it went
    assert deploys(account)[0].outcome == "failed"


def test_a_breaking_migration_refused_by_the_migrations_run_ends_the_deploy_before_any_rollout(
        account, balancer):
    """The run's `invoke migrate --lint` refused (ops/tests/test_migration_lint.py tries that on
    MariaDB): the deploy shows why, and nothing is updated."""
    beanstalk = Beanstalk()
    start_of_deploy(beanstalk)
    refusal = ("error: Nothing was migrated: this migration, not yet applied to this database, would break "
               "the version still serving while it runs")
    codebuild, stub = failing_migrations(account, "  accounts.0002_remove_user_last_name (DROPPING columns)",
                                         refusal)

    out, error = run_deploy(account, beanstalk, balancer, codebuild=codebuild)

    stub.assert_no_pending_responses()
    assert "nothing was rolled out: web still runs" in error and error.endswith(refusal)
    assert "updating" not in out
    assert history.holder(account["dynamodb"], TABLE, "production") is None


def test_allow_breaking_migrations_is_handed_to_the_migrations_run():
    from ops.aws.migrations import run

    codebuild = boto3.client("codebuild", region_name=REGION, aws_access_key_id="x",
                             aws_secret_access_key="x")
    stub = Stubber(codebuild)
    stub.add_response("start_build", {"build": {"id": "m:1"}}, {
        "projectName": MIGRATE, "imageOverride": f"{URI}:{NEW}",
        "imagePullCredentialsTypeOverride": "SERVICE_ROLE",
        "environmentVariablesOverride": [{"name": "ALLOW_BREAKING_MIGRATIONS", "value": "true",
                                          "type": "PLAINTEXT"}]})
    stub.add_response("batch_get_builds", {"builds": [{"id": "m:1", "buildStatus": "SUCCEEDED"}]},
                      {"ids": ["m:1"]})
    with stub:
        outcome = run(codebuild, None, project=MIGRATE, image=f"{URI}:{NEW}", allow_breaking=True, timeout=10,
                      out=io.StringIO())
    assert outcome.succeeded


def test_a_second_deploy_is_refused_by_the_lock_and_a_stale_lock_is_broken_on_purpose(account, balancer):
    dynamodb = account["dynamodb"]
    with history.locked(dynamodb, TABLE, "production", by="ci (build 7)", action=f"deploy {OLD}"):
        beanstalk = Beanstalk()
        worker, out = deployer(account, beanstalk, balancer)
        with pytest.raises(UserError) as refused:
            worker.deploy(version=NEW, image=f"{URI}:{NEW}", dockerrun={}, by=BY)
        beanstalk.stub.assert_no_pending_responses()  # not one Beanstalk call
    assert str(refused.value).startswith("production is being deployed by ci (build 7), since 20")
    assert str(refused.value).endswith(f"(deploy {OLD}): nothing was done. Wait until it ends (invoke status "
                                       f"--env production); if that deploy was killed and left its lock, "
                                       f"break it: --break-lock.")
    assert migration_builds(account) == [] and deploys(account) == []

    # A deploy killed while holding the lock leaves it behind: refused, until broken on purpose.
    dynamodb.put_item(TableName=TABLE, Item={**history.key("production", history.LOCK),
                                             "Who": {"S": "killed"}, "Since": {"S": "2026-11-29T10:00:00Z"},
                                             "Token": {"S": "t"}})
    beanstalk = Beanstalk()
    worker, _ = deployer(account, beanstalk, balancer)
    with pytest.raises(UserError, match="being deployed by killed, since 2026-11-29T10:00:00Z"):
        worker.deploy(version=NEW, image=f"{URI}:{NEW}", dockerrun={}, by=BY)
    start_of_deploy(beanstalk)
    rollout_to_new(beanstalk)
    balancer.versions = [NEW]
    for _ in range(3):
        beanstalk.poll(READY_NEW, READY_NEW)
        beanstalk.metrics(10, 0)
    worker, out = deployer(account, beanstalk, balancer)
    worker.deploy(version=NEW, image=f"{URI}:{NEW}", dockerrun=dockerrun(f"{URI}:{NEW}"), by=BY,
                  break_lock=True)
    beanstalk.stub.assert_no_pending_responses()
    assert "broke the deploy lock of production held by killed, since 2026-11-29T10:00:00Z" in out.getvalue()
    assert deploys(account)[0].outcome == "succeeded"


def test_an_environment_busy_with_another_change_is_refused_before_anything(account, balancer):
    beanstalk = Beanstalk()
    beanstalk.environments(READY_OLD, ("Updating", "Grey", OLD))
    worker, _ = deployer(account, beanstalk, balancer)
    with pytest.raises(UserError) as refused:
        worker.deploy(version=NEW, image=f"{URI}:{NEW}", dockerrun={}, by=BY)
    beanstalk.stub.assert_no_pending_responses()  # no version registered, nothing updated
    assert str(refused.value) == ("the worker environment is Updating: another change is under way "
                                  "(a deploy, a configuration update). Wait until it ends (invoke status "
                                  "--env production), then run this again. Nothing was done.")
    assert migration_builds(account) == [] and deploys(account) == []
    assert history.holder(account["dynamodb"], TABLE, "production") is None


def test_an_image_tag_missing_from_ecr_is_refused(account):
    with pytest.raises(UserError, match=f"The image {REPOSITORY_NAME}:feedfacecafe is not in ECR: nothing "
                                        f"was deployed. Push it first"):
        require_image(account["ecr"], target("http://unused"), "feedfacecafe")
    assert require_image(account["ecr"], target("http://unused"), NEW) == f"{URI}:{NEW}"


# --- rollback ---------------------------------------------------------------------------------------

def test_rollback_goes_to_the_last_good_version_through_the_gate(account, balancer):
    dynamodb = account["dynamodb"]
    for version, outcome in ((OLD, "succeeded"), (NEW, "succeeded")):
        record = history.start(dynamodb, TABLE, "production", action="deploy", version=version, by=BY)
        history.finish(dynamodb, TABLE, "production", record, outcome)
    beanstalk = Beanstalk()
    beanstalk.environments(READY_NEW, READY_NEW)
    beanstalk.stub.add_response("describe_application_versions", {"ApplicationVersions": [
        {"ApplicationName": APP, "VersionLabel": OLD}]}, {"ApplicationName": APP, "VersionLabels": [OLD]})
    beanstalk.update(WEB, OLD)
    beanstalk.update(WORKER, OLD)
    beanstalk.poll(("Updating", "Grey", NEW), ("Updating", "Grey", NEW))
    beanstalk.poll(READY_OLD, READY_OLD)
    balancer.versions = [OLD]
    for _ in range(3):
        beanstalk.poll(READY_OLD, READY_OLD)
        beanstalk.metrics(10, 0)
    worker, out = deployer(account, beanstalk, balancer)

    assert worker.rollback(to=None, by=BY) == OLD

    beanstalk.stub.assert_no_pending_responses()
    assert f"rolling production back to {OLD} (web runs {NEW}, worker {NEW})" in out.getvalue()
    assert f"rolled production back to {OLD}" in out.getvalue()
    assert [(record.action, record.version, record.outcome) for record in deploys(account)][0] == (
        "rollback", OLD, "succeeded")


def test_rollback_to_an_unknown_version_is_refused(account, balancer):
    beanstalk = Beanstalk()
    beanstalk.environments(READY_NEW, READY_NEW)
    beanstalk.stub.add_response("describe_application_versions", {"ApplicationVersions": []},
                                {"ApplicationName": APP, "VersionLabels": ["nope"]})
    beanstalk.stub.add_response("describe_application_versions", {"ApplicationVersions": [
        {"ApplicationName": APP, "VersionLabel": NEW, "DateCreated": at(10)},
        {"ApplicationName": APP, "VersionLabel": OLD, "DateCreated": at(0)}]},
        {"ApplicationName": APP, "MaxRecords": 10})
    worker, _ = deployer(account, beanstalk, balancer)
    with pytest.raises(UserError, match=f"nope is not an application version of {APP}: nothing was done. "
                                        f"Recent versions: {NEW}, {OLD}."):
        worker.rollback(to="nope", by=BY)
    beanstalk.stub.assert_no_pending_responses()
    assert deploys(account) == []


# --- status ------------------------------------------------------------------------------------------

def test_status_shows_the_url_each_role_the_lock_and_the_last_deploys(account):
    from ops.aws.status import status

    dynamodb = account["dynamodb"]
    record = history.start(dynamodb, TABLE, "production", action="deploy", version=NEW, by=BY)
    history.finish(dynamodb, TABLE, "production", record, "rolled back", "5xx in the bake time")
    beanstalk = Beanstalk()
    beanstalk.environments(("Ready", "Green", OLD, {"Ok": 2}),
                           ("Ready", "Yellow", OLD, {"Ok": 1, "Warning": 1}))
    with history.locked(dynamodb, TABLE, "production", by="ci (build 9)", action=f"deploy {NEW}"):
        shown = status(beanstalk.client, dynamodb, target("http://little.example"), "production")
    beanstalk.stub.assert_no_pending_responses()
    lines = shown.splitlines()
    assert lines[0] == f"production ({APP}): http://little.example"
    assert lines[1] == f"  web Ready, Green (Ok), version {OLD}, instances: 2 ok"
    assert lines[2] == f"  worker Ready, Yellow (Warning), version {OLD}, instances: 1 ok, 1 warning"
    assert (lines[3].startswith("  lock: held by ci (build 9), since 20")
            and lines[3].endswith(f"(deploy {NEW})"))
    assert lines[4] == "last deploys:"
    assert lines[5].startswith(f"  {record.started} deploy {NEW} by {BY} -> rolled back at 20")
    assert lines[5].endswith(": 5xx in the bake time")


# --- the task, as a person runs it ---------------------------------------------------------------------

def invoke_deploy(*arguments, env, cwd=None):
    import subprocess
    import sys

    from ops.testing import REPOSITORY

    return subprocess.run([sys.executable, "-m", "invoke", "deploy", *arguments], cwd=cwd or REPOSITORY,
                          env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_an_uncommitted_tree_is_refused_before_anything(aws, tmp_path):
    import subprocess

    from ops.testing import REPOSITORY

    clone = tmp_path / "checkout"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPOSITORY), str(clone)], check=True,
                   timeout=120)
    (clone / "README.md").write_text((clone / "README.md").read_text() + "\nan edit\n")
    result = invoke_deploy("--env", "production", env=aws, cwd=clone)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: The tree has uncommitted changes, and a deploy ships a commit: commit them (or stash them), "
        "then deploy; or deploy an image already pushed with --image TAG. Nothing was done.")
    assert result.stdout == ""


def stack_with_repository() -> None:
    """The environment's stack as a deploy reads it: literal outputs and the ECR repository."""
    from ops.aws.target import OUTPUTS

    names = {field: f"{APP}-{field}" for field in OUTPUTS}
    names.update(repository=REPOSITORY_NAME, repository_uri=URI)
    template = {"Resources": {"Images": {"Type": "AWS::ECR::Repository",
                                         "Properties": {"RepositoryName": REPOSITORY_NAME}}},
                "Outputs": {output: {"Value": names[field]} for field, output in OUTPUTS.items()}}
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=APP,
                                                                    TemplateBody=json.dumps(template))


def test_a_tag_missing_from_ecr_is_refused_by_the_task(aws):
    stack_with_repository()
    result = invoke_deploy("--env", "production", "--image", "feedfacecafe", env=aws)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"error: The image {REPOSITORY_NAME}:feedfacecafe is not in ECR: nothing was deployed. Push it first "
        "(invoke build --push on that commit), or pass --image with a tag that was pushed.")


@pytest.mark.parametrize(("arguments", "message"), [
    (["--env", "production", "--image", OLD], f"production has no stack on AWS yet ({APP}): create it with "
                                              "invoke aws.bootstrap --env production, then deploy."),
    (["--env", "local", "--image", OLD], "local has no AWS environment"),
])
def test_a_deploy_with_nowhere_to_go_says_so(aws, arguments, message):
    result = invoke_deploy(*arguments, env=aws)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {message}")
    assert "Traceback" not in result.stderr


def test_ctrl_c_stops_following_says_what_goes_on_and_lets_the_lock_go(account, balancer):
    beanstalk = Beanstalk()
    start_of_deploy(beanstalk)
    beanstalk.update(WEB, NEW)
    beanstalk.update(WORKER, NEW)
    beanstalk.poll(UPDATING, UPDATING)
    worker, out = deployer(account, beanstalk, balancer)

    def interrupted(seconds):
        raise KeyboardInterrupt

    worker.sleep = interrupted
    with pytest.raises(DeployFailed) as stopped:
        worker.deploy(version=NEW, image=f"{URI}:{NEW}", dockerrun=dockerrun(f"{URI}:{NEW}"), by=BY)
    beanstalk.stub.assert_no_pending_responses()
    assert str(stopped.value) == (
        f"Interrupted: the deploy of {NEW} is no longer followed here, and what AWS started goes on. Look at "
        "invoke status --env production; invoke rollback --env production goes back once it has settled.")
    assert deploys(account)[0].outcome == "interrupted"
    assert history.holder(account["dynamodb"], TABLE, "production") is None
