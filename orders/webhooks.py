"""Posting to a workspace's webhook without letting it reach the portal's own network, and
signing what is posted so the receiver can tell it came from us (docs/webhooks.md).

The URL is checked twice: when an admin saves it (syntax, scheme, port, literal addresses) and
again at every send, after resolving its name. The connection then goes to the very address
that was checked, with the original name kept for the Host header, TLS SNI and certificate
verification, so a name that resolves differently a moment later (DNS rebinding) gains
nothing. Redirects are never followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils import timezone

from orders import crypto
from orders.models import Workspace

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the name resolves to (tests inject a stub).
Resolver = Callable[[str, int], Sequence[str]]

SIGNATURE_HEADER = "X-DFY-Signature"
EVENT_ID_HEADER = "X-DFY-Event-Id"
EVENT_HEADER = "X-DFY-Event"
SECRET_PREFIX = "whsec_"  # noqa: S105 -- a label, not a secret
USER_AGENT = "dfyportal-webhook/1"

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215 local-use NAT64: by definition translates into a network of the operator's own.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_LOCAL_NAMES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class WebhookSecretMissing(Exception):
    """The workspace has a webhook URL but no signing secret yet."""


@dataclass(frozen=True)
class PostResult:
    """What one attempt achieved. `error` is written by the portal (never the remote's text,
    never the URL) so it is safe to store and show to the workspace's admins."""

    delivered: bool
    retry: bool
    http_status: int | None = None
    error: str = ""


def allowed_ports() -> frozenset[int]:
    return frozenset(int(p) for p in settings.DFY_WEBHOOK_ALLOWED_PORTS)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that end up at
    an IPv4 host: IPv4-mapped, IPv4-compatible (::a.b.c.d), 6to4, NAT64 or Teredo."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why the portal will not connect to `address`, or None when it is a public unicast one."""
    candidates: list[IPAddress] = [address]
    inner = embedded_ipv4(address)
    if inner is not None:
        candidates.append(inner)
    for candidate in candidates:
        if (
            not candidate.is_global
            or candidate.is_multicast
            or candidate in _NAT64_LOCAL
        ):
            return f"{address} is a private, loopback or reserved address."
    return None


def url_problem(url: str) -> str | None:
    """Why the portal will not post to `url` (checked without any DNS lookup), or None."""
    parsed = urlsplit(url)
    if parsed.scheme != "https":
        return "The webhook URL must start with https://."
    try:
        port = parsed.port or 443
    except ValueError:
        return "The webhook URL has an invalid port."
    host = (parsed.hostname or "").rstrip(".").lower()
    if not host or host == "localhost" or host.endswith(_LOCAL_NAMES):
        return "The webhook URL must name a public host, not this machine or a local network."
    if port not in allowed_ports():
        ports = ", ".join(str(p) for p in sorted(allowed_ports()))
        return f"The webhook URL must use port {ports}."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address_problem(address):
        return (
            "The webhook URL must not point to a private, loopback or reserved address."
        )
    return None


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to right now, in the resolver's order."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


def checked_address(host: str, port: int, resolver: Resolver) -> IPAddress | str:
    """The address to connect to, or why there is none. Every address the name has must be
    public: picking a good one among bad ones would leave the choice to the name's owner."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        names = [str(literal)]
    else:
        try:
            names = list(resolver(host, port))
        except (OSError, UnicodeError):
            return "The webhook's host name could not be resolved."
        if not names:
            return "The webhook's host name could not be resolved."
    addresses: list[IPAddress] = []
    for name in names:
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return (
                "The webhook's host name resolved to something that is not an address."
            )
        if address_problem(address):
            return (
                f"The webhook's host name resolves to {address}, "
                "a private, loopback or reserved address."
            )
        addresses.append(address)
    return addresses[0]


def webhook_post(
    *,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    resolver: Resolver = resolve_host,
    transport: httpx.BaseTransport | None = None,
    timeout: float | None = None,
) -> PostResult:
    """POST `body` to `url` if, right now, its name leads only to public addresses; connect to
    the checked address itself. A refusal is final; anything the receiver may fix is retried."""
    problem = url_problem(url)
    if problem:
        return PostResult(delivered=False, retry=False, error=problem)
    try:
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError):
        return PostResult(
            delivered=False, retry=False, error="The webhook URL is not a valid URL."
        )
    port = target.port or 443
    address = checked_address(host, port, resolver)
    if isinstance(address, str):
        # An unresolvable name may come back; a private address is a refusal.
        retry = "could not be resolved" in address
        return PostResult(delivered=False, retry=retry, error=address)
    extensions: dict[str, str] = {}
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Connect to the IP, but verify the certificate (and say hello) for the name.
        extensions["sni_hostname"] = host
    seconds = float(
        timeout if timeout is not None else settings.DFY_WEBHOOK_TIMEOUT_SECONDS
    )
    try:
        with httpx.Client(
            timeout=httpx.Timeout(seconds),
            follow_redirects=False,
            trust_env=False,  # an environment proxy would resolve the name again
            transport=transport,
        ) as http:
            response = http.post(
                target.copy_with(host=str(address)),
                content=body,
                headers={**headers, "Host": target.netloc.decode("ascii")},
                extensions=extensions,
            )
    except httpx.TimeoutException:
        return PostResult(
            delivered=False, retry=True, error="The webhook did not answer in time."
        )
    except httpx.HTTPError as exc:
        return PostResult(
            delivered=False,
            retry=True,
            error=f"The webhook could not be reached ({type(exc).__name__}).",
        )
    status = response.status_code
    if 200 <= status < 300:
        return PostResult(delivered=True, retry=False, http_status=status)
    if 300 <= status < 400:
        error = f"The webhook answered with a redirect (HTTP {status}); redirects are not followed."
    else:
        error = f"The webhook answered HTTP {status}."
    return PostResult(delivered=False, retry=True, http_status=status, error=error)


# --- signing ------------------------------------------------------------------------------


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>" under the workspace's secret."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    when = int(time.time()) if timestamp is None else timestamp
    return f"t={when},v1={signature(secret=secret, timestamp=when, body=body)}"


def webhook_secret_rotate(*, workspace: Workspace) -> str:
    """Give the workspace a new signing secret and return it in clear, for showing once.
    The previous secret stops signing at once."""
    clear = SECRET_PREFIX + secrets.token_urlsafe(32)
    workspace.webhook_secret_encrypted = crypto.encrypt(clear)
    workspace.webhook_secret_created_at = timezone.now()
    workspace.save(
        update_fields=["webhook_secret_encrypted", "webhook_secret_created_at"]
    )
    logger.info("webhook signing secret rotated for workspace %s", workspace.slug)
    return clear


def webhook_secret(workspace: Workspace) -> str:
    """The clear signing secret, for the sender only."""
    if not workspace.webhook_secret_encrypted:
        raise WebhookSecretMissing(workspace.slug)
    return crypto.decrypt(workspace.webhook_secret_encrypted)


def webhook_secrets_reencrypt() -> int:
    """Re-encrypt every stored signing secret with the newest encryption key (for
    `manage.py rotate_secrets`); returns how many changed."""
    count = 0
    for workspace in (
        Workspace.objects.exclude(webhook_secret_encrypted="")
        .only("pk", "webhook_secret_encrypted")
        .iterator()
    ):
        rotated = crypto.rotate(workspace.webhook_secret_encrypted)
        if rotated != workspace.webhook_secret_encrypted:
            Workspace.objects.filter(pk=workspace.pk).update(
                webhook_secret_encrypted=rotated
            )
            count += 1
    return count
