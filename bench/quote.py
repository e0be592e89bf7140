"""Quote round trip: the portal's quote endpoint against the bare simulation call.

Both go over real HTTP to one threaded server that serves the portal and its sandbox, with the
sandbox answering after a fixed 100 ms; the portal's figure includes its own request, session,
permission checks, payload building, the simulation call, storing the quote and rendering.
"""

from __future__ import annotations

import re
import socket
import threading
from typing import Any, cast

import httpx

from bench.harness import Figure, scratch_database, size, timing

RUNS = size(60, 3)
LATENCY_MS = 100


def _serve() -> tuple[Any, str]:
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            # The development server writes headers and body separately; without this, Nagle
            # plus delayed ACKs add ~40 ms per response, which production servers do not.
            # (django-stubs type `connection` as the request; socketserver sets the socket.)
            sock = cast(socket.socket, self.connection)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def run() -> dict[str, Figure]:
    with scratch_database():
        return _measure()


def _measure() -> dict[str, Figure]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from orders import drafts, instantly_keys
    from orders.models import Membership, Workspace
    from orders.rules import DraftItem, DraftMailbox
    from sandbox.services import sandbox_workspace_create
    from sandbox.switches import switches_set

    settings.DFY_QUOTE_REUSE_SECONDS = 0  # every portal request asks the sandbox afresh
    # As deployed (.env.example): keep database connections across requests. Without it each
    # request opens a new PostgreSQL connection, which the bare call pays once and the portal
    # twice (its own request and the sandbox's).
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = 60
    settings.ALLOWED_HOSTS = ["*"]
    server, base = _serve()
    try:
        sandbox_ws, key = sandbox_workspace_create(name="bench")
        switches_set(latency_ms=LATENCY_MS)
        workspace = Workspace.objects.create(name="Bench", slug="bench")
        user = get_user_model().objects.create_user("bench", password="bench-pass-123")
        Membership.objects.create(user=user, workspace=workspace, role="operator")
        instantly_keys.instantly_key_save(
            workspace=workspace,
            by=None,
            secret=key,
            label="bench",
            base_url=f"{base}/sandbox/api/v2",
        )
        order = drafts.order_draft_create(
            workspace=workspace, by=user, order_type="dfy"
        )
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
        drafts.order_draft_save(
            order=order, by=user, version=order.version, items=items
        )
        payload = {
            "order_type": "dfy",
            "items": [
                {
                    "domain": i.domain,
                    "email_provider": 1,
                    "accounts": [
                        {
                            "email_address_prefix": m.email_prefix,
                            "first_name": m.first_name,
                            "last_name": m.last_name,
                        }
                        for m in i.mailboxes
                    ],
                }
                for i in items
            ],
        }

        portal = httpx.Client(base_url=base, timeout=30)
        login_page = portal.get("/login/")
        token = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text
        )
        assert token is not None
        portal.post(
            "/login/",
            data={
                "username": "bench",
                "password": "bench-pass-123",
                "csrfmiddlewaretoken": token.group(1),
            },
        )
        csrf = portal.cookies.get("csrftoken") or ""
        quote_url = f"/w/bench/orders/{order.pk}/quote/"
        headers = {"HX-Request": "true", "X-CSRFToken": csrf}
        warm = portal.post(quote_url, headers=headers)
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
                    _time(lambda: portal.post(quote_url, headers=headers))
                )
        portal.close()
    finally:
        server.shutdown()
        server.server_close()
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


def _time(fn: Any) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
