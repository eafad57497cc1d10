"""The API on the real stack: gunicorn through `invoke serve`, MariaDB, Redis.

Users and tokens are made the way an operator makes them (`invoke createsuperuser`,
`invoke manage "create_api_token ..."`), never by writing to the database from here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ops import testing as support

pytestmark = pytest.mark.integration

SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")
# Debian's chromium; CI images with another Chromium-based browser name it in CHROMIUM.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
USERNAME = "live-admin"
PASSWORD = "live admin password 4 tests"
OPERATIONS = 13
SCHEMATHESIS_CLI = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"


def own_cache(env: dict[str, str], **variables: str) -> dict[str, str]:
    """The environment with throttle counts of its own in the shared Redis."""
    return {**env, "CACHE_KEY_PREFIX": f"test-live-{uuid.uuid4().hex[:12]}", **variables}


@pytest.fixture(scope="module")
def live_env(service_database) -> dict[str, str]:
    """The service database, with a superuser made by `invoke createsuperuser`."""
    env = {**service_database, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    support.invoke("createsuperuser", "--username", USERNAME, "--email", "live@example.com",
                   env=env, check=True)
    return env


def new_token(env: dict[str, str]) -> str:
    result = support.invoke("manage", f"create_api_token {USERNAME}", env=env, check=True)
    match = re.search(r"^([0-9a-f]{64})$", result.stdout, re.MULTILINE)
    assert match, result.stdout + result.stderr
    return match.group(1)


@pytest.fixture(scope="module")
def api_server(live_env, tmp_path_factory):
    # Schemathesis sends thousands of requests from one address, hundreds of them failed sign-ins;
    # the limits are tested below and in accounts/tests/test_login_attempts.py.
    env = own_cache(live_env, THROTTLE_ANON_RATE="1000000/minute", THROTTLE_USER_RATE="1000000/minute",
                    THROTTLE_AUTH_RATE="1000000/minute", LOGIN_FAILURES_PER_ADDRESS="1000000",
                    LOGIN_FAILURES_PER_USERNAME="1000000")
    with support.serving(env, tmp_path_factory.mktemp("api-server")) as server:
        yield server


def schemathesis(server: support.Server, tmp_path: Path, *arguments: str) -> str:
    argv = [sys.executable, "-c", SCHEMATHESIS_CLI,
            "--config-file", str(SCHEMATHESIS_CONFIG), "run", server.url("/api/schema/"),
            "--checks", "all", "--max-examples", "60", "--workers", "2", "--no-color",
            "--generation-database", "none", *arguments]
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output}\n--- server log ---\n{server.output()[-5000:]}"
    assert "Traceback" not in server.output()
    return output


def operations_counted(output: str) -> tuple[int, int]:
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    count = re.search(r"Tested: (\d+)", output)
    assert selected and count, output
    assert int(selected.group(2)) == OPERATIONS, output
    return int(selected.group(1)), int(count.group(1))


def test_schemathesis_without_a_token_finds_no_5xx_and_no_schema_violation(api_server, tmp_path):
    output = schemathesis(api_server, tmp_path)
    assert operations_counted(output) == (OPERATIONS, OPERATIONS)


def test_schemathesis_with_a_token_finds_no_5xx_and_no_schema_violation(api_server, live_env, tmp_path):
    token = new_token(live_env)
    # Revoking the token would sign the rest of the run out (schemathesis finds its key in the
    # token list and revokes that one too): every other operation first...
    revoking = ["auth_token_revoke", "auth_tokens_revoke", "auth_tokens_revoke_all"]
    output = schemathesis(api_server, tmp_path, "--header", f"Authorization: Token {token}",
                          *[option for name in revoking for option in ("--exclude-operation-id", name)])
    assert operations_counted(output) == (OPERATIONS - 3, OPERATIONS - 3)
    # ...then revocation itself, with the same token (the first call revokes it).
    output = schemathesis(api_server, tmp_path, "--header", f"Authorization: Token {token}",
                          *[option for name in revoking for option in ("--include-operation-id", name)])
    assert operations_counted(output) == (3, 3)
    answer = support.http_get(api_server.url("/api/v1/auth/me/"), headers={"Authorization": f"Token {token}"})
    assert answer.status == 401


def test_throttle_limits_are_shared_by_every_worker(live_env, tmp_path):
    """4 workers, one limit: the count is in Redis, not in each process."""
    env = own_cache(live_env, THROTTLE_ANON_RATE="5/day")  # one window for the whole test
    with support.serving(env, tmp_path, workers=4) as server:
        answers = [support.http_get(server.url("/api/v1/counter/"),
                                    headers={"X-Forwarded-For": f"203.0.113.{n}"})  # forged: ignored
                   for n in range(16)]
    assert [answer.status for answer in answers] == [200] * 5 + [429] * 11
    throttled = answers[-1]
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 86400


def test_browser_counts_up_logs_in_and_sees_every_endpoint_in_swagger_ui(live_env, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) "
                    f"or name another Chromium-based browser in CHROMIUM")
    from playwright.sync_api import expect, sync_playwright

    env = own_cache(live_env)
    # The schemathesis runs above left failed sign-ins from this address in the database the
    # budgets live in: an operator clears them so (`axes_reset_username NAME` for one account).
    support.invoke("manage", "axes_reset", env=env, check=True)
    with support.serving(env, tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            elsewhere: list[str] = []

            def only_this_server(route):
                if route.request.url.startswith(server.base_url):
                    return route.continue_()
                elsewhere.append(route.request.url)
                return route.abort()

            page.route("**/*", only_this_server)

            # The hello page counts up on reload.
            page.goto(server.url("/"))
            first = int(page.locator("#count").inner_text())
            page.reload()
            assert int(page.locator("#count").inner_text()) == first + 1

            # A person signs in through the login page, its limits on (a typo is one failure of
            # the username's budget; the success clears it), and lands on the API documentation.
            page.goto(server.url("/accounts/login/"))
            page.fill("#id_username", USERNAME)
            page.fill("#id_password", "a typo")
            page.click("#login")
            expect(page.locator("#login-error")).to_be_visible()
            page.fill("#id_password", PASSWORD)
            page.click("#login")
            page.wait_for_url(server.url("/api/docs/"))

            # Swagger UI, served by this service, lists every endpoint.
            paths = page.locator(".opblock-summary-path")
            expect(paths.first).to_be_visible(timeout=20_000)
            listed = {text.strip().replace("\u200b", "") for text in paths.all_inner_texts()}
            assert listed == {
                "/api/v1/messages/", "/api/v1/messages/{message_id}/", "/api/v1/auth/token/",
                "/api/v1/auth/tokens/", "/api/v1/auth/tokens/{token_key}/",
                "/api/v1/auth/me/", "/api/v1/counter/", "/api/v1/counter/increment/",
            }
            assert page.locator(".opblock").count() == OPERATIONS

            # The session works for the API, and a write from the page passes CSRF.
            me = page.evaluate("fetch('/api/v1/auth/me/').then(r => r.json())")
            assert me["username"] == USERNAME
            created = page.evaluate("""async () => {
                const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
                const response = await fetch('/api/v1/messages/', {method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                    body: JSON.stringify({text: 'from the browser 🌍'})});
                return [response.status, await response.json()];
            }""")
            assert created[0] == 201, created
            assert created[1]["author"]["username"] == USERNAME

            # Signing out ends the session.
            page.goto(server.url("/accounts/login/"))
            page.click("#logout")
            page.wait_for_url(server.url("/accounts/login/"))
            status = page.evaluate("fetch('/api/v1/auth/me/').then(r => r.status)")
            assert status == 401
            assert elsewhere == []  # nothing was fetched from anywhere but this server
        finally:
            browser.close()
