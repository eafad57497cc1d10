"""The Content-Security-Policy in a real browser: the pages, the admin and Swagger UI work under it
and violate nothing (headless Chromium against `invoke serve`, as in test_live.py)."""

from __future__ import annotations

import uuid

import pytest

from application.tests.api.test_live import CHROMIUM, CHROMIUM_ARGS, PASSWORD, own_cache
from ops import testing as support

pytestmark = pytest.mark.integration

# Every violation, whatever the page: the event's own fields, sent out of the page by a binding.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => window.reportViolation({
    page: document.location.pathname, directive: event.effectiveDirective,
    blocked: event.blockedURI, sample: event.sample}));
"""


@pytest.fixture
def staff_account(service_database) -> tuple[dict[str, str], str]:
    """The service database with a staff user of this test's own, made as an operator makes one
    (test_live.py's user is made once per module: a second `createsuperuser` of it would fail)."""
    username = f"csp-admin-{uuid.uuid4().hex[:6]}"
    env = {**service_database, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    support.invoke("createsuperuser", "--username", username, "--email", f"{username}@example.com",
                   env=env, check=True)
    return env, username


def test_pages_admin_and_swagger_ui_run_under_the_policy_without_a_violation(staff_account, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    live_env, username = staff_account
    env = own_cache(live_env)
    with support.serving(env, tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            violations: list[dict] = []
            console: list[str] = []
            context.expose_function("reportViolation", lambda violation: violations.append(violation))
            context.add_init_script(REPORT_VIOLATIONS)
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith(server.base_url) else route.abort())

            def visit(path: str) -> None:
                response = page.goto(server.url(path))
                assert response.ok, (path, response.status)
                policy = response.headers["content-security-policy"]
                assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, policy

            # A violation is seen: an inline style added to a page is refused, and reported.
            visit("/")
            page.evaluate("() => { const style = document.createElement('style');"
                          " style.textContent = 'body { color: red }'; document.head.appendChild(style); }")
            expect(page.locator("#count")).to_be_visible()
            page.wait_for_timeout(200)
            assert [violation["directive"] for violation in violations] == ["style-src-elem"], violations
            assert any("Content Security Policy" in line for line in console), console
            violations.clear()
            console.clear()

            # The counter page and the login page.
            page.reload()
            expect(page.locator("#count")).to_be_visible()
            visit("/accounts/login/")
            expect(page.locator("#login")).to_be_visible()

            # A staff user signs in to the admin through its login form.
            visit("/admin/login/?next=/admin/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(server.url("/admin/"))
            expect(page.locator("#site-name")).to_be_visible()
            expect(page.locator("#content-main")).to_contain_text("Users")
            visit("/admin/accounts/user/")
            expect(page.locator("#result_list")).to_contain_text(username)

            # Swagger UI renders every operation, and opens one.
            visit("/api/docs/")
            operations = page.locator(".opblock")
            expect(operations.first).to_be_visible(timeout=20_000)
            schema = page.evaluate("fetch('/api/schema/', {headers: {Accept: 'application/json'}})"
                                   ".then(response => response.json())")
            assert operations.count() == sum(len(methods) for methods in schema["paths"].values())
            operations.first.locator(".opblock-summary").click()
            expect(page.locator(".opblock-body").first).to_be_visible()
            page.locator(".try-out__btn").first.click()
            page.locator(".execute").first.click()
            expect(page.locator(".live-responses-table").first).to_be_visible(timeout=10_000)
            page.wait_for_timeout(300)

            assert violations == []
            assert [line for line in console if "Content Security Policy" in line or "Refused" in line] == []
        finally:
            browser.close()
