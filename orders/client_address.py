"""The address a request came from, for log-in throttling.

Behind a TLS proxy every request arrives from the proxy's address, so throttling on
REMOTE_ADDR alone would let five bad attempts lock everybody out. The client's address is
taken from X-Forwarded-For only when the deployment says how many proxies it trusts
(`DFY_TRUSTED_PROXY_COUNT`); otherwise that header is ignored, since any client can forge it.
See docs/security.md, "Log-in throttling".
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from orders.conf import trusted_proxy_count


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or with N trusted proxies the address the outermost trusted proxy saw:
    the N-th entry from the right of X-Forwarded-For (entries further left are the client's
    own claims and are not trusted)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = trusted_proxy_count()
    if trusted <= 0:
        return remote
    hops = [
        part
        for part in request.headers.get("x-forwarded-for", "").split(",")
        if part.strip()
    ]
    if len(hops) < trusted:
        # The request skipped a proxy that should have added itself: do not guess.
        return remote
    return _valid(hops[-trusted]) or remote
