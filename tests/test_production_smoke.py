"""The production configuration, served for real: DJANGO_DEBUG off, secrets from the
environment, `collectstatic` into the manifest storage, gunicorn behind a TLS-terminating
proxy (simulated by X-Forwarded-Proto). A static file a template names but the manifest lacks,
or a setting that only production reads, fails here instead of in the first deploy.
"""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_deploy import ROOT, manage, production_env

PASSWORD = secrets.token_urlsafe(16)
CREATE_USER = f"""
from django.contrib.auth import get_user_model
from orders.models import Membership, Role, Workspace
workspace = Workspace.objects.create(name="Production Smoke", slug="prod")
user = get_user_model().objects.create_user("smoke", password={PASSWORD!r})
Membership.objects.create(user=user, workspace=workspace, role=Role.OPERATOR)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Browser:
    """Plain HTTP to the app server as the proxy forwards it (https to the app). The cookies
    are `Secure`, so a cookie jar would never send them over this http hop: kept by hand."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.host = base.removeprefix("http://")
        self.cookies: dict[str, str] = {}
        self.client = httpx.Client(base_url=base, timeout=20)

    def request(
        self, method: str, path: str, data: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = {
            "X-Forwarded-Proto": "https",
            "Origin": f"https://{self.host}",
            "Referer": f"https://{self.host}{path}",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.client.request(method, path, data=data, headers=headers)
        for cookie in response.headers.get_list("set-cookie"):
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[tuple[Browser, Path]]:
    port = _free_port()
    env = production_env(
        tmp_path,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_BEHIND_PROXY="true",
    )
    for args in (
        ("migrate", "--noinput"),
        ("collectstatic", "--noinput"),
        ("shell", "-c", CREATE_USER),
    ):
        done = manage(env, *args)
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "dfyportal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    browser = Browser(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                browser.client.get("/login/", headers={"X-Forwarded-Proto": "https"})
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{log_path.read_text()}")
                time.sleep(0.3)
        yield browser, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        browser.client.close()


def _static_urls(html: str) -> list[str]:
    return sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html)))


@pytest.mark.timeout(240)  # migrate, collectstatic and gunicorn, each its own process
def test_production_settings_serve_login_static_files_and_a_logged_in_page(
    production_server: tuple[Browser, Path],
) -> None:
    browser, var_dir = production_server

    login = browser.request("GET", "/login/")
    assert login.status_code == 200, login.text[:2000]
    assert login.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Content-Security-Policy" in login.headers
    assert "__Secure-csrftoken" in browser.cookies
    # Every asset the page names comes from the manifest (a content hash in its name) and
    # whitenoise serves it, compressed copies included.
    assets = _static_urls(login.text)
    assert any(url.endswith(".css") for url in assets), assets
    assert any(url.endswith(".js") for url in assets), assets
    for url in assets:
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", url), f"not from the manifest: {url}"
        asset = browser.request("GET", url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert (var_dir / "staticfiles" / "staticfiles.json").exists()

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert token is not None
    signed_in = browser.request(
        "POST",
        "/login/",
        data={
            "username": "smoke",
            "password": PASSWORD,
            "csrfmiddlewaretoken": token.group(1),
        },
    )
    assert signed_in.status_code == 302, signed_in.text[:2000]
    assert "__Secure-sessionid" in browser.cookies

    for path in ("/w/prod/", "/w/prod/orders/"):
        page = browser.request("GET", path)
        assert page.status_code == 200, f"{path}: {page.text[:2000]}"
        assert "Production Smoke" in page.text
        assert "Log out smoke" in page.text
        for url in _static_urls(page.text):
            assert browser.request("GET", url).status_code == 200, url
    # The debug page never shows in production: an unknown page is a plain 404.
    missing = browser.request("GET", "/w/prod/no-such-page/")
    assert missing.status_code == 404
    assert "Traceback" not in missing.text
    assert "DJANGO_SECRET_KEY" not in missing.text
