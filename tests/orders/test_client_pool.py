"""Clients over the process's shared connection pool reuse one httpx client per key
(`orders/instantly/transport.py`): building one costs a share of every quote request. A
client given its own transport (tests, the sandbox in process) keeps and closes its own."""

from __future__ import annotations

import httpx

from orders.instantly import InstantlyClient, shared_transport

BASE = "https://api.instantly.ai/api/v2"


def client(key: str, transport: httpx.BaseTransport) -> InstantlyClient:
    return InstantlyClient(
        api_key=key, base_url=BASE, limiter_bucket="test", transport=transport
    )


def test_clients_of_one_key_share_an_http_client_that_closing_keeps_open() -> None:
    first, second = (
        client("key-one", shared_transport()),
        client("key-one", shared_transport()),
    )
    other = client("key-two", shared_transport())
    assert first._http is second._http
    assert other._http is not first._http
    assert other._http.headers["Authorization"] == "Bearer key-two"
    first.close()
    assert not second._http.is_closed
    with client("key-one", shared_transport()) as third:
        assert third._http is second._http
    assert not second._http.is_closed


def test_a_client_with_its_own_transport_closes_its_own() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={})

    own = client("key-one", httpx.MockTransport(answer))
    assert own._http is not client("key-one", shared_transport())._http
    own._http.get("accounts")
    assert seen == ["Bearer key-one"]
    own.close()
    assert own._http.is_closed
