"""Schemathesis in stateful mode on the real stack (gunicorn, MariaDB, Redis): the whole API, its
calls chained by the schema's OpenAPI links (a message created, then read, changed, listed by its
author and deleted, then read again; tokens listed, then revoked; the counter read and raised).

Every check schemathesis has runs on every answer, with schemathesis.toml's expectations: no 5xx,
each answer as the schema says, a message just created can be read, a deleted one cannot, an
operation that needs a token refuses a request without one. The run counts the calls it made by
following a link, so that links that stop working fail here rather than leave the operations
tested one by one.
"""

from __future__ import annotations

from collections import Counter

import hypothesis
import pytest
import schemathesis
import yaml
from schemathesis.config import SchemathesisConfig
from schemathesis.engine.errors import is_inconsistent_replay
from schemathesis.generation.stateful.state_machine import DEFAULT_STATE_MACHINE_SETTINGS

from application.tests.api import test_live
from ops import testing as support

USERNAME = "stateful-admin"
PASSWORD = "stateful admin password 4 tests"
# test_live's server (throttles raised: thousands of requests, hundreds of failed sign-ins), on the
# superuser below.
api_server = test_live.api_server
SIGNING_OUT = {"auth_token_revoke", "auth_tokens_revoke_all"}  # the token used stops working
REVOKING = SIGNING_OUT | {"auth_tokens_revoke"}  # ...or may (it may be the one listed first)
# Scenarios of up to 12 calls each: enough to create, read, change, delete and read again.
SETTINGS = hypothesis.settings(DEFAULT_STATE_MACHINE_SETTINGS, max_examples=40, stateful_step_count=12,
                               derandomize=True, database=None)
# Runs of the machine at most: see `run_machine`.
RUNS = 3


def run_machine(machine, failures: list[BaseException]) -> None:
    """Run the state machine as schemathesis' own engine does against a live server.

    Hypothesis replays the start of earlier scenarios to find new ones; against a live server an
    answer may differ on the replay (a token revoked, a list longer), and Hypothesis then stops
    with Flaky ("inconsistent data generation"), though no check failed. As schemathesis' engine
    does, that is not a failure when no check failed during the run (`failures`, recorded by the
    steps), and the machine runs again, up to RUNS times in all; a check that failed is raised.
    """
    for _ in range(RUNS):
        try:
            machine.run(settings=SETTINGS)
            return
        except (hypothesis.errors.Flaky, AssertionError) as exc:
            if failures:
                raise failures[0] from exc
            if not (isinstance(exc, hypothesis.errors.Flaky) or is_inconsistent_replay(exc)):
                raise


@pytest.fixture(scope="module")
def live_env(service_database) -> dict[str, str]:
    """test_live's api_server runs on this: the session's database, with a superuser of this module."""
    env = {**service_database, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    support.invoke("createsuperuser", "--username", USERNAME, "--email", "stateful@example.com",
                   env=env, check=True)
    return env


class SignedIn:
    """The token every call carries: a new one, obtained as a client does, once a call revoked it."""

    def __init__(self, server: support.Server) -> None:
        self.server = server
        self.sign_in()

    def sign_in(self) -> None:
        answer = support.http_json("POST", self.server.url("/api/v1/auth/token/"),
                                   {"username": USERNAME, "password": PASSWORD})
        assert answer.status == 200, answer.body
        self.token = answer.json()["token"]

    def works(self) -> bool:
        return support.http_json("GET", self.server.url("/api/v1/auth/me/"), token=self.token).status == 200


def operation_id(case) -> str:
    return case.operation.definition.raw["operationId"]


@pytest.mark.integration
def test_linked_calls_across_the_whole_api_find_no_5xx_and_no_schema_violation(api_server):
    schema = schemathesis.openapi.from_url(api_server.url("/api/schema/"),
                                           config=SchemathesisConfig.from_path(test_live.SCHEMATHESIS_CONFIG))
    signed_in = SignedIn(api_server)
    failures: list[BaseException] = []
    called: Counter[str] = Counter()
    linked: Counter[tuple[str, str, int]] = Counter()  # (from, to, the status `to` answered)

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Token {signed_in.token}"}}

        def step(self, input):
            try:
                output = super().step(input)  # each check has passed
            except Exception as exc:
                failures.append(exc)
                raise
            called[operation_id(input.case)] += 1
            if input.transition is not None and input.is_applied:  # the call used what the link named
                source = self.recorder.cases[input.transition.parent_id].value
                linked[operation_id(source), operation_id(input.case), output.response.status_code] += 1
            return output

        def after_call(self, response, case):
            super().after_call(response, case)
            if operation_id(case) in REVOKING and response.status_code == 204:
                if not signed_in.works():
                    signed_in.sign_in()
                elif operation_id(case) in SIGNING_OUT:
                    raise AssertionError(f"{case.operation.label} answered 204, and its token still works")

    assert len(list(schema.get_all_operations())) == test_live.OPERATIONS
    run_machine(Workflow, failures)
    assert "Traceback" not in api_server.output()

    # Every operation was called, and calls that need what an earlier answer named (a message's id,
    # a token's key) found it there.
    assert len(called) == test_live.OPERATIONS, called
    report = "\n".join(f"{count:4} {source} -> {target}: {status}"
                       for (source, target, status), count in sorted(linked.items()))
    succeeded: Counter[tuple[str, str]] = Counter()
    for (source, target, status), count in linked.items():
        if status < 300:
            succeeded[source, target] += count
    # A message created is read, changed or deleted by its id; deleted, it is gone; a token listed
    # is revoked by its key.
    assert sum(succeeded["messages_create", target]
               for target in ("messages_retrieve", "messages_update", "messages_delete")), report
    assert linked["messages_delete", "messages_retrieve", 404], report
    assert sum(succeeded["auth_tokens_list", target]
               for target in ("auth_tokens_revoke", "auth_tokens_revoke_all", "auth_token_revoke")), report
    assert sum(succeeded.values()) >= 40, report


@pytest.mark.django_db
def test_every_operation_is_linked_to_another_so_the_stateful_run_calls_it(anonymous):
    """Schemathesis chains only the operations that a link leads from or to."""
    schema = yaml.safe_load(anonymous.get("/api/schema/").content)
    operations = [operation for item in schema["paths"].values() for operation in item.values()]
    names = {operation["operationId"] for operation in operations}
    linked = set()
    for operation in operations:
        for response in operation["responses"].values():
            for name, link in response.get("links", {}).items():
                assert name == link["operationId"] and name in names
                linked |= {operation["operationId"], name}
    assert linked == names
    schemathesis.openapi.from_dict(schema).as_state_machine()  # raises on a link's invalid parameter
