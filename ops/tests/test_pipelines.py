"""Every pipeline calls the same tasks, and every pipeline file passes its own validator.

Parity: the Dockerfile, the entrypoint, docker-compose.yml, .circleci/config.yml,
aws/buildspec.yml and .ci/run may run invoke tasks that exist, and otherwise only the few
commands that install the lock (and invoke with it) or start CI's own services.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tasks
from ops import commands
from ops.tasks import build
from ops.testing import REPOSITORY

DOCKERFILE = REPOSITORY / "docker" / "Dockerfile"
ENTRYPOINT = REPOSITORY / "docker" / "entrypoint.sh"
COMPOSE = REPOSITORY / "docker" / "docker-compose.yml"
CIRCLECI = REPOSITORY / ".circleci" / "config.yml"
BUILDSPEC = REPOSITORY / "aws" / "buildspec.yml"
DEPLOYSPEC = REPOSITORY / "aws" / "deployspec.yml"
AWS_TEMPLATE = REPOSITORY / "aws" / "environment.yml"
CI_RUN = REPOSITORY / ".ci" / "run"

# What a pipeline may run besides tasks, and why.
INSTALLERS = {"apt-get", "dpkg", "useradd", "groupadd"}  # system packages, the image's user
SHELL = {"set", "cd", "export", "if", "then", "else", "fi", "[", "test", "echo", "command", "exit",
         "true", "mkdir", "rm", "find", "!", "{", "}", "((", "))", "missing+=", "local"}
# .ci/run: probes and starts of the services and tools CI needs (`docker info` asks for an engine)
CI_SERVICES = {"pkg-config", "mariadb-admin", "redis-cli", "start-stop-daemon", "redis-server", "docker"}
OPERATORS = {"&&", "||", ";", "|", "(", ")", "&", ";;"}


def task_names() -> set[str]:
    names = set()

    def walk(collection, prefix=""):
        for name in collection.tasks:
            names.add(prefix + name)
        if collection.default:
            names.add(prefix.rstrip("."))
        for name, child in collection.collections.items():
            walk(child, f"{prefix}{name}.")

    walk(tasks.ns)
    return names - {""}


def simple_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script: words, split at operators and line ends."""
    commands: list[list[str]] = []
    text = re.sub(r"\\\n", " ", script)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"\d*>>?&?\s*[^\s;&|]+", "", line)  # redirections are not commands
        line = re.sub(r"\b[A-Za-z_]\w*\+?=\([^)]*\)", "", line)  # array assignments
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if token in OPERATORS:
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
        if current:
            commands.append(current)
    return commands


def program(words: list[str]) -> list[str]:
    """Drop assignments and wrappers: `A=b sudo exec invoke x` -> ["invoke", "x"]."""
    words = list(words)
    while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*\+?=", words[0]) or words[0] in {
            "sudo", "exec", "then", "else", "do", "!", "if"}):
        if words[0].startswith("missing+="):
            return ["missing+="]
        words.pop(0)
    return words


def installs_the_lock(words: list[str], name: str) -> bool:
    """A virtual environment, the hashed lock into it (the installers out of the image's), or
    .ci/run (itself checked here)."""
    if re.match(r"python3?(\.\d+)?$", name) and words[1:3] == ["-m", "venv"]:
        return True
    if re.match(r"python3?(\.\d+)?$", name) and words[1:4] == ["-m", "pip", "uninstall"]:
        return set(words[4:]) - {"--yes", "--quiet"} <= {"pip", "setuptools", "wheel"}
    if name == "pip" and "install" in words and "--require-hashes" in words:
        return any(re.match(r"/?.*requirements(-dev)?\.txt$", word) for word in words)
    return words[:2] == ["bash", ".ci/run"]


def violations(commands: list[list[str]], *, allowed: set[str] = frozenset()) -> list[str]:
    known = task_names()
    found = []
    for words in commands:
        words = program(words)
        if not words or words[0] in SHELL | INSTALLERS | allowed:
            continue
        line = shlex.join(words)
        name = Path(words[0]).name
        if name in {"invoke", "inv"}:
            arguments = [word for word in words[1:] if not word.startswith("-")]
            if words[1:] == ["$@"]:  # the entrypoint's role: checked in the Dockerfile and compose
                continue
            if not arguments or arguments[0] not in known:
                found.append(f"{line}: not a task")
        elif re.match(r"python3?(\.\d+)?$", name) and words[1:2] == ["bootstrap.py"]:
            arguments = [word for word in words[2:] if not word.startswith("-")]
            if arguments and arguments[0] not in known:
                found.append(f"{line}: not a task")
        elif not installs_the_lock(words, name):
            found.append(f"{line}: not an invoke task")
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def exec_form(value: str) -> list[str]:
    value = value.strip()
    return yaml.safe_load(value) if value.startswith("[") else shlex.split(value)


def dockerfile_commands() -> list[list[str]]:
    commands = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "RUN":
            rest = re.sub(r"--mount=\S+\s*", "", rest)
            commands += simple_commands(rest)
        elif keyword == "CMD":  # arguments of the entrypoint: an invoke task
            commands.append(["invoke", *exec_form(rest)])
        elif keyword == "HEALTHCHECK":
            command = exec_form(rest.split(" CMD ", 1)[1])
            commands.append(command)
        elif keyword == "ENTRYPOINT":
            assert exec_form(rest) == ["/app/docker/entrypoint.sh"]
    return commands


def compose_commands() -> list[list[str]]:
    commands = []
    for name, service in yaml.safe_load(COMPOSE.read_text())["services"].items():
        ours = "build" in service
        if ours:
            command = service.get("command", ["serve"])
            commands.append(["invoke", *(command if isinstance(command, list) else shlex.split(command))])
            test = (service.get("healthcheck") or {}).get("test")
            if test:
                assert test[0] == "CMD", f"{name}: exec-form healthcheck"
                commands.append(test[1:])
    return commands


def circleci_commands() -> list[list[str]]:
    config = yaml.safe_load(CIRCLECI.read_text())
    steps = [step for job in config["jobs"].values() for step in job["steps"]]
    steps += [step for command in config.get("commands", {}).values() for step in command["steps"]]
    commands = []
    for step in steps:
        if isinstance(step, dict) and "run" in step:
            run = step["run"]
            commands += simple_commands(run if isinstance(run, str) else run["command"])
    return commands


def spec_commands(spec: dict) -> list[list[str]]:
    return [command for phase in spec["phases"].values() for line in phase.get("commands", [])
            for command in simple_commands(line)]


def buildspec_commands() -> list[list[str]]:
    return spec_commands(yaml.safe_load(BUILDSPEC.read_text()))


def deployspec_commands() -> list[list[str]]:
    return spec_commands(yaml.safe_load(DEPLOYSPEC.read_text()))


def template_buildspec_commands() -> list[list[str]]:
    """The buildspecs written into the AWS template (the migrations project's)."""
    resources = yaml.safe_load(AWS_TEMPLATE.read_text())["Resources"]
    return [command for spec in resources.values() if spec["Type"] == "AWS::CodeBuild::Project"
            and "\n" in str(spec["Properties"]["Source"].get("BuildSpec", ""))
            for command in spec_commands(yaml.safe_load(spec["Properties"]["Source"]["BuildSpec"]))]


PIPELINES = {
    "Dockerfile": (dockerfile_commands, set()),
    "entrypoint": (lambda: simple_commands(ENTRYPOINT.read_text()), set()),
    "docker-compose.yml": (compose_commands, set()),
    ".circleci/config.yml": (circleci_commands, set()),
    "aws/buildspec.yml": (buildspec_commands, set()),
    "aws/deployspec.yml": (deployspec_commands, set()),
    "aws/environment.yml": (template_buildspec_commands, set()),
    ".ci/run": (lambda: simple_commands(CI_RUN.read_text()), CI_SERVICES),
}


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_command_of_the_pipeline_is_an_invoke_task(pipeline):
    collect, allowed = PIPELINES[pipeline]
    commands = collect()
    assert commands, f"no commands found in {pipeline}"
    assert violations(commands, allowed=allowed) == []


def test_the_pipelines_run_the_tasks_the_issue_names():
    lines = {name: [" ".join(program(words)) for words in collect()]
             for name, (collect, _) in PIPELINES.items()}
    assert "invoke wait-for --timeout ${WAIT_FOR_TIMEOUT:-60}" in lines["entrypoint"]
    assert {"invoke migrate", "invoke celery", "invoke celery.beat"} <= set(lines["docker-compose.yml"])
    assert "invoke serve" in lines["Dockerfile"]
    circle = " ".join(lines[".circleci/config.yml"])
    assert "bootstrap.py wait-for" in circle and "bootstrap.py test --env ci" in circle
    assert "bootstrap.py build" in circle and "python3 bootstrap.py audit" in circle
    # CodeBuild: the tests, the audit, then the image, pushed for main only.
    assert lines["aws/buildspec.yml"][-3:] == [
        "bash .ci/run", "python3 bootstrap.py audit", "python3 bootstrap.py build --push --push-from main"]
    assert lines["aws/deployspec.yml"][-1:] == [
        "python3 bootstrap.py deploy --env $DEPLOY_ENV --image ${CODEBUILD_RESOLVED_SOURCE_VERSION:0:12}"]
    assert lines["aws/environment.yml"] == [
        "cd /app", "invoke migrate --lint ${ALLOW_BREAKING_MIGRATIONS:+--allow-breaking}"]
    assert lines[".ci/run"][-1] == "python3 bootstrap.py test"


@pytest.mark.parametrize("line", [
    "python manage.py migrate", "pytest -x", "gunicorn application_service.wsgi",
    "celery -A application_service worker", "docker compose up", "invoke no-such-task",
    "cd app && python3 -m pytest", "pip install django", "DEBUG=1 sudo make test",
])
def test_the_parity_check_catches_a_command_of_its_own(line):
    assert violations(simple_commands(line)), line


def test_the_parity_check_accepts_installing_and_tasks():
    script = ("sudo apt-get update -qq && sudo apt-get install -y libmariadb-dev\n"
              "python3 bootstrap.py test --env ci --pytest-args \"-m 'not container'\"\n"
              "PIP_CONFIG_FILE=/x pip install --require-hashes --no-deps -r /tmp/requirements.txt\n"
              "exec invoke celery.beat --loglevel INFO")
    assert violations(simple_commands(script)) == []


# --- validation with the tools each format has -------------------------------------------------

def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, timeout=120)


def test_circleci_config_matches_its_published_schema():
    result = check_jsonschema("vendor.circle-ci", CIRCLECI)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_spec():
    result = check_jsonschema("vendor.compose-spec", COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_keeps_its_promises():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0] == ("ARG", "BASE_IMAGE=python:3.12.15-slim")  # an exact version
    assert keywords.count("FROM") >= 2  # multi-stage
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "--mount=type=cache,target=/root/.cache/pip" in runs
    assert "--require-hashes" in runs and "requirements.txt" in runs
    assert 'collectstatic' in runs
    user = [rest for keyword, rest in instructions if keyword == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in keywords and "/healthz" not in dict(instructions).get("ENV", "")
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert not re.search(r"SECRET_KEY|DATABASE_URL|PASSWORD|TOKEN", env)


def test_dockerignore_keeps_secrets_reports_and_history_out():
    patterns = (REPOSITORY / ".dockerignore").read_text().splitlines()
    assert "*" in patterns  # a whitelist
    for kept_out in ("**/.env", "reports/", "**/.git"):
        assert kept_out in patterns


def reports_written_by_the_test_task() -> dict[str, Path]:
    """Where `invoke test` writes its JUnit XML and coverage XML, read off the command it runs."""
    argv = commands.pytest()
    junit = next(arg.split("=", 1)[1] for arg in argv if arg.startswith("--junitxml="))
    coverage = next(arg.split(":", 1)[1] for arg in argv if arg.startswith("--cov-report=xml:"))
    return {"junit": Path(junit), "coverage": Path(coverage)}


def test_buildspec_publishes_what_the_tasks_write():
    spec = yaml.safe_load(BUILDSPEC.read_text())
    written = reports_written_by_the_test_task()
    for name, report in spec["reports"].items():
        published = {REPOSITORY / report["base-directory"] / file for file in report["files"]}
        assert published == {written[name]}, name
    artifact = REPOSITORY / build.ns.configuration()["docker"]["artifact"]
    artifacts = spec["artifacts"]
    assert {REPOSITORY / artifacts["base-directory"] / file for file in artifacts["files"]} == {artifact}


def test_circleci_publishes_what_the_test_task_writes_and_caches_on_the_lock():
    config = yaml.safe_load(CIRCLECI.read_text())
    steps = [step for step in config["jobs"]["test"]["steps"] if isinstance(step, dict)]
    published = {REPOSITORY / next(iter(step.values()))["path"] for step in steps
                 if {"store_test_results", "store_artifacts"} & set(step)}
    assert published == {written.parent for written in reports_written_by_the_test_task().values()}
    steps = config["commands"]["bootstrap"]["steps"]
    [restore] = [step["restore_cache"] for step in steps if "restore_cache" in step]
    [save] = [step["save_cache"] for step in steps if "save_cache" in step]
    for lock in ("requirements.txt", "requirements-dev.txt"):  # bootstrap.py installs the second
        checksum = f'{{{{ checksum "{lock}" }}}}'
        assert checksum in restore["keys"][0] and checksum in save["key"]
    # pip's downloads, which pip checks against the lock's hashes; never an environment or a
    # wheel built here, which a branch's job could have saved and main's would run unchecked.
    assert save["paths"] == ["~/.cache/pip/http-v2"]


def test_circleci_audits_on_every_branch():
    config = yaml.safe_load(CIRCLECI.read_text())
    audit = config["jobs"]["audit"]
    runs = [step["run"]["command"] for step in audit["steps"] if isinstance(step, dict) and "run" in step]
    assert audit["steps"][0] == "bootstrap" and runs == ["python3 bootstrap.py audit"]
    [workflow] = config["workflows"].values()
    assert "audit" in workflow["jobs"]  # no branch filter


def test_compose_runs_exact_versions_of_mysql_and_redis():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert services["mysql"]["image"] == "mysql:8.0.46"  # RDS runs MySQL 8.0
    assert services["redis"]["image"] == "redis:7.2.16"  # CircleCI tests on Redis 7.2


def test_circleci_test_job_has_what_the_suite_needs_that_is_not_python():
    """In ci a skip is a failure: the browser test needs a browser, the bench test wrk."""
    test = yaml.safe_load(CIRCLECI.read_text())["jobs"]["test"]
    primary = test["docker"][0]
    assert primary["image"].endswith("-browsers")  # CircleCI's images with Google Chrome
    assert primary["environment"]["CHROMIUM"] == "/usr/bin/google-chrome"
    installs = [words for step in test["steps"] if isinstance(step, dict) and "run" in step
                for words in simple_commands(step["run"]["command"]) if "apt-get" in words]
    assert any("wrk" in words for words in installs)


# --- the deploy tasks: what a person and the pipeline's deploy stage call ------------------------

@pytest.mark.parametrize(("name", "options"), [
    ("deploy", ["--env", "--image", "--allow-breaking-migrations", "--break-lock", "--region"]),
    ("rollback", ["--env", "--to", "--break-lock", "--region"]),
    ("status", ["--env", "--region"]),
    ("logs", ["--env", "--follow", "--since", "--role", "--region"]),
])
def test_the_deploy_tasks_explain_themselves(name, options):
    result = subprocess.run([sys.executable, "-m", "invoke", name, "--help"], cwd=REPOSITORY,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for option in options:
        assert option in result.stdout, option
    assert name in task_names()


def test_the_deploy_stage_deploys_the_tag_the_build_stage_pushed():
    """The build tags the image with Revision.tag (the commit's first 12 hex digits, from
    CODEBUILD_RESOLVED_SOURCE_VERSION in CodeBuild); the deploy stage names the same tag."""
    from ops.images import revision

    sha = "0123456789abcdef0123456789abcdef01234567"
    built = revision(REPOSITORY / "no-such-dir", environ={"CODEBUILD_RESOLVED_SOURCE_VERSION": sha},
                     git=lambda *args, **kwargs: subprocess.CompletedProcess(args, 128, "", ""))
    [*_, image, tag] = deployspec_commands()[-1]
    assert image == "--image"
    assert subprocess.run(["bash", "-c", f'echo "{tag}"'], env={"CODEBUILD_RESOLVED_SOURCE_VERSION": sha},
                          capture_output=True, text=True).stdout.strip() == built.tag
    spec = yaml.safe_load(DEPLOYSPEC.read_text())
    assert spec["env"]["shell"] == "bash"  # the substring expansion is bash's
