"""The domain forwarding endpoints (Instantly, 2026-08-20): GET, PUT and DELETE of
/api/v2/domains/{domain}/forwarding, run through the same pipeline as every other endpoint.

Forwarding lives on the domain's order row (DomainOrder.forwarding_domain / forwarding_mode),
which is also what the orders list reports. The published answers and the sandbox's choices
where Instantly says nothing are listed in docs/instantly.md ("Domain forwarding").
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox.api import Call, Endpoint, _serve
from sandbox.http import ApiError, parse_json_body
from sandbox.models import DomainOrder
from sandbox.rules import FORWARDING_RATE_LIMITS, GLOBAL_RATE_LIMITS, HOST_NAME

# The published pattern of both the path's {domain} and the body's forwarding_domain.
DOMAIN_PATTERN = r"^\s*\S+\.[a-zA-Z]{2,}\s*$"
_DOMAIN = re.compile(DOMAIN_PATTERN)
MODES = ("redirect", "stealth")
DEFAULT_MODE = "redirect"
# Instantly's own 502 wording (API reference, error table).
NOT_APPLIED = "Failed to update forwarding for the domain. Please try again."


def forwarding_json(order: DomainOrder) -> dict[str, Any]:
    """The published DomainForwarding object: both values null when nothing is configured."""
    configured = bool(order.forwarding_domain)
    return {
        "domain": order.domain,
        "forwarding_domain": order.forwarding_domain if configured else None,
        "forwarding_mode": (order.forwarding_mode or DEFAULT_MODE)
        if configured
        else None,
    }


def update_body_error(body: object) -> str | None:
    """The first problem of a PUT body in Ajv's words, in the order Ajv checks the published
    schema (required, then each property's type, minLength, pattern, enum); None when valid."""
    if not isinstance(body, dict):
        return "body must be object"
    if "forwarding_domain" not in body:
        return "body must have required property 'forwarding_domain'"
    target = body["forwarding_domain"]
    if not isinstance(target, str):
        return "body/forwarding_domain must be string"
    if len(target) < 1:
        return "body/forwarding_domain must NOT have fewer than 1 characters"
    if not _DOMAIN.search(target):
        return f'body/forwarding_domain must match pattern "{DOMAIN_PATTERN}"'
    if "forwarding_mode" in body:
        mode = body["forwarding_mode"]
        if not isinstance(mode, str):
            return "body/forwarding_mode must be string"
        if mode not in MODES:
            return "body/forwarding_mode must be equal to one of the allowed values"
    return None


def _path_domain(call: Call) -> str:
    raw = (
        str(call.request.resolver_match.kwargs["domain"])
        if call.request.resolver_match
        else ""
    )
    if not raw or not _DOMAIN.search(raw):
        raise ApiError(400, f'params/domain must match pattern "{DOMAIN_PATTERN}"')
    return raw.strip().lower()


def _domain_order(call: Call, domain: str) -> DomainOrder:
    # Only domains this workspace ordered through Instantly have forwarding.
    # A NUL passes the published pattern but names nothing (and PostgreSQL cannot look it up).
    order = (
        None
        if "\x00" in domain
        else DomainOrder.objects.filter(workspace=call.workspace, domain=domain).first()
    )
    if order is None:
        raise ApiError(404, "Domain not found")
    return order


def _changeable(call: Call, order: DomainOrder) -> None:
    """The state checks PUT and DELETE share: cancelled, still provisioning, forced 502."""
    if order.timestamp_cancelled is not None:
        raise ApiError(422, "Forwarding cannot be changed on a cancelled domain")
    ready_at = order.timestamp_created + timedelta(
        seconds=call.knobs.provisioning_delay_seconds
    )
    if timezone.now() < ready_at:
        raise ApiError(409, "The domain order is still being provisioned")


def _get(call: Call) -> dict[str, Any]:
    return forwarding_json(_domain_order(call, _path_domain(call)))


def _put(call: Call) -> dict[str, Any]:
    domain = _path_domain(call)
    body, body_error = parse_json_body(call.request)
    if body_error:
        raise body_error
    if message := update_body_error(body):
        raise ApiError(400, message)
    target = str(body["forwarding_domain"]).strip().lower()
    if not HOST_NAME.match(target):
        raise ApiError(
            400, "body/forwarding_domain must be a host name such as mycompany.com"
        )
    if target == domain:
        raise ApiError(400, "body/forwarding_domain must differ from the domain")
    order = _domain_order(call, domain)
    _changeable(call, order)
    if call.knobs.forwarding_unsupported:
        raise ApiError(422, "Forwarding is not supported for this domain")
    if call.knobs.forwarding_apply_fails:
        raise ApiError(502, NOT_APPLIED)
    order.forwarding_domain = target
    order.forwarding_mode = str(body.get("forwarding_mode", DEFAULT_MODE))
    order.save(update_fields=["forwarding_domain", "forwarding_mode"])
    return forwarding_json(order)


def _delete(call: Call) -> dict[str, Any]:
    """Idempotent: removing forwarding that is not there succeeds with the same answer."""
    order = _domain_order(call, _path_domain(call))
    _changeable(call, order)
    if call.knobs.forwarding_apply_fails:
        raise ApiError(502, NOT_APPLIED)
    if order.forwarding_domain or order.forwarding_mode:
        order.forwarding_domain = ""
        order.forwarding_mode = ""
        order.save(update_fields=["forwarding_domain", "forwarding_mode"])
    return forwarding_json(order)


_CHANGE_LIMITS = GLOBAL_RATE_LIMITS + FORWARDING_RATE_LIMITS
GET_ENDPOINT = Endpoint("read", _get)
PUT_ENDPOINT = Endpoint("update", _put, limits=_CHANGE_LIMITS)
DELETE_ENDPOINT = Endpoint("delete", _delete, limits=_CHANGE_LIMITS)


@csrf_exempt
@login_not_required
def forwarding_view(request: HttpRequest, domain: str) -> HttpResponse:
    return _serve(
        request, {"GET": GET_ENDPOINT, "PUT": PUT_ENDPOINT, "DELETE": DELETE_ENDPOINT}
    )
