from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.models import PreWarmedDomain, RestrictedKeyword, SandboxWorkspace
from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
from sandbox.services import sandbox_workspace_create
from sandbox.testing import in_process_transport

BASE_URL = "http://testserver/sandbox/api/v2"
ORDERS = "/dfy-email-account-orders"


@dataclass
class Sandbox:
    """A sandbox workspace, its clear key, and an httpx client talking to it in-process,
    the way the portal's client does (only the transport differs)."""

    workspace: SandboxWorkspace
    key: str
    http: httpx.Client

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def order(
        self, items: list[dict[str, Any]], order_type: str = "dfy", **extra: Any
    ) -> dict[str, Any]:
        response = self.post(
            ORDERS, {"items": items, "order_type": order_type, **extra}
        )
        assert response.status_code == 200, response.text
        return decimal_json(response)


def decimal_json(response: httpx.Response) -> Any:
    """Parse like the portal does: money as Decimal, never float."""
    return json.loads(response.content, parse_float=Decimal)


def mailboxes(count: int, prefix: str = "user") -> list[dict[str, str]]:
    return [
        {
            "email_address_prefix": f"{prefix}{n}",
            "first_name": "Jane",
            "last_name": f"Doe{n}",
        }
        for n in range(count)
    ]


def item(
    domain: str, count: int = 1, provider: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "domain": domain,
        "email_provider": provider,
        "accounts": mailboxes(count),
        **extra,
    }


@pytest.fixture(autouse=True)
def _restricted_keywords(db: None) -> None:
    # The data migration seeds them, but a transactional test elsewhere may have flushed them.
    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    clients: list[httpx.Client] = []

    def make(*, key: str | None = None, **kwargs: Any) -> Sandbox:
        workspace, secret = sandbox_workspace_create(**kwargs)
        client = httpx.Client(
            transport=in_process_transport(),
            base_url=BASE_URL,
            headers={"Authorization": f"Bearer {key or secret}"},
            timeout=5,
        )
        clients.append(client)
        return Sandbox(workspace=workspace, key=secret, http=client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(name="Acme sandbox")


@pytest.fixture
def anonymous() -> Iterator[httpx.Client]:
    with httpx.Client(transport=in_process_transport(), base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def stock() -> list[PreWarmedDomain]:
    return [
        PreWarmedDomain.objects.create(
            domain="warmleads.com", account_type=1, mailbox_count=3
        ),
        PreWarmedDomain.objects.create(
            domain="warmreach.org", account_type=2, mailbox_count=2
        ),
        PreWarmedDomain.objects.create(
            domain="warmsend.co", account_type=1, mailbox_count=4
        ),
        PreWarmedDomain.objects.create(
            domain="warmbundle.com", account_type=3, mailbox_count=50
        ),
    ]
