"""Quote round trip: the portal's quote endpoint against the bare simulation call.

Measured on the deployed shape, as the load test is (bench/load.py): the portal under
docker-compose's `web` command (gunicorn, DJANGO_DEBUG off, behind a proxy that ended TLS) and
the sandbox standing in for Instantly in a gunicorn of its own, answering after a fixed 100 ms.
Instantly is another service on other machines: serving it from the portal's own interpreter,
as this benchmark did until 2026-12-03, made the remote's Python work compete with the portal's
for one interpreter lock and counted that as the portal's overhead.

This process makes both calls over real HTTP, interleaved: the bare simulation with the
portal's own client (limiter, retries and all), and the portal's quote request, whose figure
includes its request, session, permission checks, payload building, the simulation call,
storing the quote and rendering the panel.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from bench import servers
from bench.harness import Figure, scratch_database, size, timing

RUNS = size(60, 3)
WARM_UP = size(12, 1)
LATENCY_MS = 100
_CSRF = re.compile(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'")


def run() -> dict[str, Figure]:
    with scratch_database("quote"):
        return _measure()


def _measure() -> dict[str, Figure]:
    from django.conf import settings

    work = Path(settings.VAR_DIR) / "quote"
    work.mkdir(parents=True, exist_ok=True)
    env = servers.server_env()
    # Every portal request asks the sandbox afresh, as an edit does.
    env["DFY_QUOTE_REUSE_SECONDS"] = "0"
    servers.collect_static(env)
    with (
        servers.server(servers.sandbox_command(), env, work / "sandbox.log") as sandbox,
        servers.server(servers.portal_command(), env, work / "portal.log") as portal,
    ):
        workspace, order, session, payload = _setup(sandbox)
        bare_samples, portal_samples = _interleaved(
            workspace, portal, order, session, payload
        )
    bare = timing(
        [s * 1000 for s in bare_samples],
        at=50,
        note=f"median, sandbox latency {LATENCY_MS} ms",
    )
    through_portal = timing([s * 1000 for s in portal_samples], at=50, note="median")
    # Pair by pair (they were interleaved), so a burst of load elsewhere cancels out.
    overhead = timing(
        [(p - b) * 1000 for b, p in zip(bare_samples, portal_samples, strict=True)],
        at=50,
        note="median of the portal's extra time per pair",
    )
    return {
        "quote_bare_ms": bare,
        "quote_portal_ms": through_portal,
        "quote_overhead_ms": overhead,
        # Issue 14's goal on PostgreSQL + Redis.
        "quote_overhead_ratio": Figure(
            through_portal.value / bare.value,
            "x",
            budget=1.10,
            note=f"median portal / median bare, {RUNS} pairs",
        ),
    }


def _setup(sandbox: str) -> tuple[Any, Any, str, dict[str, Any]]:
    """A workspace whose key points at the sandbox, an operator's two-domain draft, the
    operator's session, and the simulation payload the portal sends for that draft."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from orders import drafts
    from orders.models import Membership, Workspace
    from orders.payload import order_payload
    from orders.rules import DraftItem, DraftMailbox
    from sandbox.services import sandbox_workspace_create
    from sandbox.switches import switches_set

    _sandbox_workspace, key = sandbox_workspace_create(name="bench")
    switches_set(latency_ms=LATENCY_MS)
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    # No usable password: the session is made here rather than by logging in.
    user = get_user_model().objects.create_user("bench")
    Membership.objects.create(user=user, workspace=workspace, role="operator")
    servers.sandbox_key_save(
        workspace=workspace, secret=key, sandbox=sandbox, label="bench"
    )
    order = drafts.order_draft_create(workspace=workspace, by=user, order_type="dfy")
    items = [
        DraftItem(
            domain=f"benchbrand{n}-mail.com",
            provider=1,
            mailboxes=(
                DraftMailbox("Jane", "Roe", "jane"),
                DraftMailbox("John", "Roe", "john"),
            ),
        )
        for n in range(2)
    ]
    order = drafts.order_draft_save(
        order=order, by=user, version=order.version, items=items
    )
    order.workspace = workspace
    session = Client()
    session.force_login(user)
    return (
        workspace,
        order,
        session.cookies[settings.SESSION_COOKIE_NAME].value,
        order_payload(order, drafts.draft_read(order)),
    )


def _interleaved(
    workspace: Any, portal: str, order: Any, session: str, payload: dict[str, Any]
) -> tuple[list[float], list[float]]:

    from django.urls import reverse

    from orders import instantly_keys

    origin = portal.replace("http://", "https://")
    # The portal runs behind a proxy that ended TLS, so its cookies are Secure; this client
    # speaks plain HTTP on loopback and sends them itself.
    cookies = {servers.SESSION_COOKIE: session}
    headers = {"X-Forwarded-Proto": "https", "Origin": origin}
    builder_url = reverse("orders:build", args=[workspace.slug, order.pk])
    quote_url = reverse("orders:quote", args=[workspace.slug, order.pk])
    with httpx.Client(base_url=portal, timeout=30, headers=headers) as browser:
        page = browser.get(builder_url, headers=_cookie_header(cookies))
        token = _CSRF.search(page.text)
        if page.status_code != 200 or token is None:
            raise RuntimeError(
                f"the builder did not open: {page.status_code} {page.headers.get('location', '')} {page.text[:300]}"
            )
        cookies[servers.CSRF_COOKIE] = page.cookies[servers.CSRF_COOKIE]
        quote_headers = {
            "HX-Request": "true",
            "X-CSRFToken": token.group(1),
            "Referer": origin + builder_url,
            **_cookie_header(cookies),
        }
        # Every gunicorn worker loads the URLs, templates and its Instantly connection on its
        # first request; which worker accepts a connection is the kernel's choice, so enough
        # warm-up requests that each has served some.
        for _ in range(WARM_UP):
            warm = browser.post(quote_url, headers=quote_headers)
            if "$50.00" not in warm.text:
                raise RuntimeError(
                    f"the portal did not quote as expected: {warm.status_code} {warm.text[:300]}"
                )
        # Interleaved, so that load from anything else on the machine hits both alike.
        bare_samples, portal_samples = [], []
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
            client.simulate_order(payload)  # warm-up
            for _ in range(RUNS):
                bare_samples.append(_time(lambda: client.simulate_order(payload)))
                portal_samples.append(
                    _time(lambda: browser.post(quote_url, headers=quote_headers))
                )
    return bare_samples, portal_samples


def _cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def _time(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
