"""Browser tests: Playwright driving Debian's Chromium against a live server.

The live server runs in this process (pytest-django's `live_server`), so the sandbox it serves
shares the test database; the workspace's key points at the live server's /sandbox/ API, and
the portal's client reaches it over real HTTP exactly as in `make run`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import require_service

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    require_service(
        "Chromium",
        Path(CHROMIUM).exists(),
        f"{CHROMIUM} is not installed (apt-get install chromium)",
    )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django must allow ORM calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser, request):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True
        )
    context.close()


@pytest.fixture
def shot(request):  # type: ignore[no-untyped-def]
    """Save a screenshot as a test artifact: shot(page, "step-name")."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:  # type: ignore[no-untyped-def]
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def live_remote(live_server, workspace, settings):  # type: ignore[no-untyped-def]
    """The workspace's key points at the live server's sandbox, over real HTTP."""
    from orders import instantly_keys
    from sandbox.models import RestrictedKeyword
    from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
    from sandbox.services import sandbox_workspace_create

    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )
    settings.INSTANTLY_SANDBOX_BASE_URL = f"{live_server.url}/sandbox/api/v2"
    sandbox_workspace, key = sandbox_workspace_create(
        name=f"remote of {workspace.slug}"
    )
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=key,
        label="Sandbox",
        base_url=settings.INSTANTLY_SANDBOX_BASE_URL,
    )
    return sandbox_workspace


def login(page, live_server, username: str, password: str = "correct-horse-42") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
