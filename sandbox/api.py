"""The emulated Instantly endpoints under /sandbox/api/v2/, as plain FBVs.

Every request goes through `_serve`, in this order: unknown route (404), key (401), rate
limits and injected faults (429, 5xx), scope (403), plan (402), body (400), the handler.
The request is logged before any deliberate delay, so a client that timed out can already
see what the sandbox received.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import listing, placement, services
from sandbox.domains import (
    RestrictedDomain,
    domains_check,
    domains_similar,
    prewarmed_stock,
)
from sandbox.http import ApiError, json_response, parse_json_body
from sandbox.models import RequestLog, SandboxKey, SandboxSettings, SandboxWorkspace
from sandbox.ratelimit import rate_limit_hit
from sandbox.rules import (
    ACCOUNT_FILTERS,
    ACCOUNTS_SCOPE_RESOURCE,
    CHECK_RATE_LIMITS,
    DEFAULT_PAGE_SIZE,
    GLOBAL_RATE_LIMITS,
    MAX_PAGE_SIZE,
    PREWARMED_TLDS,
    PUBLISHED_PROVIDER_CODES,
    SCOPE_RESOURCE,
    AccountStatus,
    RateLimit,
)
from sandbox.schema import (
    ACCOUNTS_CANCEL,
    DOMAINS_CHECK,
    DOMAINS_SIMILAR,
    ORDER_CREATE,
    PREWARMED_LIST,
    Schema,
    first_error,
)
from sandbox.sending_accounts import AccountQuery
from sandbox.switches import Effective, counter_take, effective, should_fail_randomly
from sandbox.timestamps import iso


@dataclass(frozen=True)
class Call:
    request: HttpRequest
    workspace: SandboxWorkspace
    knobs: Effective
    body: Any


@dataclass(frozen=True)
class Endpoint:
    action: str
    handler: Callable[[Call], dict[str, Any]]
    schema: Schema | None = None
    body_optional: bool = False
    resource: str = SCOPE_RESOURCE
    needs_plan: bool = True
    limits: tuple[RateLimit, ...] = GLOBAL_RATE_LIMITS
    places_orders: bool = False


@dataclass
class Trace:
    """What the request log and the delays need to know about one request."""

    knobs: Effective
    workspace: SandboxWorkspace | None = None
    real_order: bool = False
    order_placed: bool = False
    hold_seconds: float = 0.0


# --- query strings ---------------------------------------------------------------------------
_INTEGER = re.compile(r"^-?\d{1,9}$")


def _query_limit(request: HttpRequest) -> int:
    values = request.GET.getlist("limit")
    if not values:
        return DEFAULT_PAGE_SIZE
    if len(values) > 1 or not _INTEGER.match(values[0].strip()):
        raise ApiError(400, "querystring/limit must be integer")
    limit = int(values[0])
    if limit < 1:
        raise ApiError(400, "querystring/limit must be >= 1")
    if limit > MAX_PAGE_SIZE:
        raise ApiError(400, f"querystring/limit must be <= {MAX_PAGE_SIZE}")
    return limit


def _query_flag(request: HttpRequest, name: str) -> bool:
    values = request.GET.getlist(name)
    if not values:
        return False
    if len(values) > 1 or values[0] not in {"true", "false"}:
        raise ApiError(400, f"querystring/{name} must be boolean")
    return values[0] == "true"


def _query_one(request: HttpRequest, name: str, kind: str) -> str | None:
    values = request.GET.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"querystring/{name} must be {kind}")
    return values[0] if values else None


def _query_number(
    request: HttpRequest, name: str, allowed: Collection[int]
) -> int | None:
    """A query parameter declared `number` with an enum of whole numbers."""
    text = _query_one(request, name, "number")
    if text is None:
        return None
    if not _INTEGER.match(text.strip()):
        raise ApiError(400, f"querystring/{name} must be number")
    if int(text) not in allowed:
        raise ApiError(
            400, f"querystring/{name} must be equal to one of the allowed values"
        )
    return int(text)


def _query_text(
    request: HttpRequest, name: str, allowed: Collection[str] | None = None
) -> str:
    text = _query_one(request, name, "string") or ""
    if text and allowed is not None and text not in allowed:
        raise ApiError(
            400, f"querystring/{name} must be equal to one of the allowed values"
        )
    return text


def _bad_cursor() -> ApiError:
    return ApiError(400, "querystring/starting_after is not a valid cursor")


# --- bodies --------------------------------------------------------------------------------
def _parse_body(request: HttpRequest) -> tuple[Any, ApiError | None]:
    """Instantly's framework parses JSON and plain text only; any other declared content type
    is refused with 415 before validation (docs/instantly.md: inferred)."""
    declared = request.content_type or ""
    if "Content-Type" not in request.headers or declared == "application/json":
        return parse_json_body(request)
    if declared == "text/plain":
        # A string body, which the schema then refuses ("body must be object").
        return request.body.decode("utf-8", "replace"), None
    return None, ApiError(
        415,
        f"Unsupported Media Type: {declared}",
        extra={"code": "FST_ERR_CTP_INVALID_MEDIA_TYPE"},
    )


# --- handlers --------------------------------------------------------------------------------
def _order_create(call: Call) -> dict[str, Any]:
    if not call.body["items"]:
        # The schema sets no minimum, but an order of nothing must never read as placed.
        raise ApiError(400, "body/items must NOT have fewer than 1 items")
    return placement.order_place(
        workspace=call.workspace, body=call.body, knobs=call.knobs
    )


def _orders_list(call: Call) -> dict[str, Any]:
    limit = _query_limit(call.request)
    try:
        return listing.orders_page(
            call.workspace,
            limit=limit,
            starting_after=call.request.GET.get("starting_after", ""),
        )
    except listing.BadCursor:
        raise _bad_cursor() from None


def _domains_similar(call: Call) -> dict[str, Any]:
    try:
        return {
            "domains": domains_similar(
                call.body["domain"], call.body.get("tlds", ["com", "org"])
            )
        }
    except RestrictedDomain as restricted:
        raise ApiError(
            400,
            f'The provided domain contains a restricted keyword: "{restricted.keyword}". Please choose another domain.',
            extra={"code": "restricted_domain", "keyword": restricted.keyword},
        ) from None


def _domains_check(call: Call) -> dict[str, Any]:
    return {"results": domains_check(call.body["domains"])}


def _prewarmed_list(call: Call) -> dict[str, Any]:
    rows = prewarmed_stock(
        extensions=call.body.get("extensions", PREWARMED_TLDS),
        search=call.body.get("search", ""),
        empty=call.knobs.empty_prewarmed_stock,
    )
    return {
        "domains": [row.domain for row in rows],
        "domains_with_type": [
            {"domain": row.domain, "account_type": row.account_type} for row in rows
        ],
    }


def _accounts_list(call: Call) -> dict[str, Any]:
    limit = _query_limit(call.request)
    with_passwords = _query_flag(call.request, "with_passwords")
    try:
        return listing.accounts_page(
            call.workspace,
            limit=limit,
            starting_after=call.request.GET.get("starting_after", ""),
            with_passwords=with_passwords,
            provisioning_seconds=call.knobs.provisioning_delay_seconds,
        )
    except listing.BadCursor:
        raise _bad_cursor() from None


def _sending_accounts_list(call: Call) -> dict[str, Any]:
    request = call.request
    limit = _query_limit(request)
    query = AccountQuery(
        search=_query_text(request, "search"),
        status=_query_number(request, "status", {int(s) for s in AccountStatus}),
        provider_code=_query_number(request, "provider_code", PUBLISHED_PROVIDER_CODES),
        filter=_query_text(request, "filter", ACCOUNT_FILTERS),
    )
    try:
        return listing.sending_accounts_page(
            call.workspace,
            limit=limit,
            starting_after=request.GET.get("starting_after", ""),
            query=query,
            provisioning_seconds=call.knobs.provisioning_delay_seconds,
        )
    except listing.BadCursor:
        raise _bad_cursor() from None


def _sending_account(call: Call, *, email: str) -> dict[str, Any]:
    found = listing.sending_account(
        call.workspace,
        email=email,
        provisioning_seconds=call.knobs.provisioning_delay_seconds,
    )
    if found is None:
        raise ApiError(404, "Resource not found")
    return found


def _accounts_cancel(call: Call) -> dict[str, Any]:
    cancelled = services.accounts_cancel(
        workspace=call.workspace, emails=call.body["accounts"]
    )
    return {"items": [listing.account_json(account) for account in cancelled]}


def _workspace_current(call: Call) -> dict[str, Any]:
    workspace = call.workspace
    return {
        "id": str(workspace.id),
        "timestamp_created": iso(workspace.created_at),
        "timestamp_updated": iso(workspace.updated_at),
        "owner": str(workspace.owner_id),
        "name": workspace.name,
        "plan_id": "pid_hg_v1" if workspace.plan_active else None,
    }


ORDER_CREATE_ENDPOINT = Endpoint(
    "create", _order_create, ORDER_CREATE, places_orders=True
)
ORDERS_LIST_ENDPOINT = Endpoint("read", _orders_list)
SIMILAR_ENDPOINT = Endpoint("create", _domains_similar, DOMAINS_SIMILAR)
CHECK_ENDPOINT = Endpoint(
    "create",
    _domains_check,
    DOMAINS_CHECK,
    limits=GLOBAL_RATE_LIMITS + CHECK_RATE_LIMITS,
)
PREWARMED_ENDPOINT = Endpoint(
    "read", _prewarmed_list, PREWARMED_LIST, body_optional=True
)
ACCOUNTS_LIST_ENDPOINT = Endpoint("read", _accounts_list)
CANCEL_ENDPOINT = Endpoint("delete", _accounts_cancel, ACCOUNTS_CANCEL)
# Instantly's general accounts API: its own scope resource (accounts:read, accounts:all...).
SENDING_ACCOUNTS_ENDPOINT = Endpoint(
    "read", _sending_accounts_list, resource=ACCOUNTS_SCOPE_RESOURCE
)
# A workspace without a plan can still identify itself; only DFY calls answer 402.
WORKSPACE_ENDPOINT = Endpoint(
    "read", _workspace_current, resource="workspaces", needs_plan=False
)


# --- the pipeline ----------------------------------------------------------------------------
def _authenticate(request: HttpRequest) -> SandboxKey:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        raise ApiError(401, "Missing Authorization header")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "Authorization header must be 'Bearer <API key>'")
    key = services.key_find(secret.strip())
    if key is None:
        raise ApiError(401, "Invalid API key")
    return key


def _run(
    request: HttpRequest, endpoint: Endpoint, global_row: SandboxSettings, trace: Trace
) -> HttpResponse:
    body, body_error = (
        _parse_body(request) if request.method == "POST" else (None, None)
    )
    if endpoint.places_orders:
        # Absent "simulation" means false: such a POST would spend money at Instantly.
        trace.real_order = (
            isinstance(body, dict) and body.get("simulation", False) is False
        )
    key = _authenticate(request)
    workspace = trace.workspace = key.workspace
    knobs = trace.knobs = effective(workspace, global_row)
    if knobs.enforce_rate_limits:
        wait = rate_limit_hit(
            workspace_id=workspace.id, limits=endpoint.limits, now=time.time()
        )
        if wait:
            raise ApiError(429, "Rate limit exceeded", retry_after=wait)
    if counter_take("burst_429_remaining", workspace, global_row):
        raise ApiError(429, "Rate limit exceeded", retry_after=1)
    if counter_take(
        "error_5xx_remaining", workspace, global_row
    ) or should_fail_randomly(knobs.error_5xx_rate):
        raise ApiError(500, "Internal server error")
    if not key.allows(endpoint.resource, endpoint.action):
        raise ApiError(403, "Forbidden")
    if endpoint.needs_plan and not workspace.plan_active:
        raise ApiError(402, "Workspace does not have an active paid plan")
    if body_error:
        raise body_error
    if endpoint.schema is not None:
        if body is None and endpoint.body_optional:
            body = {}
        if message := first_error(endpoint.schema, body):
            raise ApiError(400, message)
    if trace.real_order and knobs.timeout_without_record:
        trace.hold_seconds = knobs.timeout_seconds
        raise ApiError(504, "The request timed out before it was processed")
    payload = endpoint.handler(
        Call(request=request, workspace=workspace, knobs=knobs, body=body)
    )
    if trace.real_order:
        trace.order_placed = payload.get("order_placed") is True
        if knobs.timeout_after_record:
            trace.hold_seconds = knobs.timeout_seconds
    return json_response(payload)


def _serve(request: HttpRequest, routes: Mapping[str, Endpoint]) -> HttpResponse:
    global_row = SandboxSettings.load()
    trace = Trace(knobs=effective(None, global_row))
    endpoint = routes.get(request.method or "")
    try:
        if endpoint is None:
            api_path = request.path[max(request.path.find("/api/v2"), 0) :]
            raise ApiError(404, f"Route {request.method}:{api_path} not found")
        response = _run(request, endpoint, global_row, trace)
    except ApiError as error:
        response = error.response()
    RequestLog.objects.create(
        workspace=trace.workspace,
        method=(request.method or "")[:10],
        path=request.path.replace("\x00", "")[:300],
        real_order=trace.real_order,
        order_placed=trace.order_placed,
        status_code=response.status_code,
    )
    # Deliberate delays come last, after everything is committed and logged.
    delay = trace.hold_seconds + trace.knobs.latency_ms / 1000
    if delay > 0:
        time.sleep(delay)
    return response


@csrf_exempt
@login_not_required
def dfy_orders(request: HttpRequest) -> HttpResponse:
    return _serve(request, {"GET": ORDERS_LIST_ENDPOINT, "POST": ORDER_CREATE_ENDPOINT})


@csrf_exempt
@login_not_required
def domains_similar_view(request: HttpRequest) -> HttpResponse:
    return _serve(request, {"POST": SIMILAR_ENDPOINT})


@csrf_exempt
@login_not_required
def domains_check_view(request: HttpRequest) -> HttpResponse:
    return _serve(request, {"POST": CHECK_ENDPOINT})


@csrf_exempt
@login_not_required
def prewarmed_list_view(request: HttpRequest) -> HttpResponse:
    return _serve(request, {"POST": PREWARMED_ENDPOINT})


@csrf_exempt
@login_not_required
def accounts_list_view(request: HttpRequest) -> HttpResponse:
    return _serve(request, {"GET": ACCOUNTS_LIST_ENDPOINT})


@csrf_exempt
@login_not_required
def accounts_cancel_view(request: HttpRequest) -> HttpResponse:
    return _serve(request, {"POST": CANCEL_ENDPOINT})


@csrf_exempt
@login_not_required
def sending_accounts_view(request: HttpRequest) -> HttpResponse:
    return _serve(request, {"GET": SENDING_ACCOUNTS_ENDPOINT})


@csrf_exempt
@login_not_required
def sending_account_view(request: HttpRequest, email: str) -> HttpResponse:
    handler = partial(_sending_account, email=email)
    return _serve(
        request, {"GET": Endpoint("read", handler, resource=ACCOUNTS_SCOPE_RESOURCE)}
    )


@csrf_exempt
@login_not_required
def workspace_current_view(request: HttpRequest) -> HttpResponse:
    return _serve(request, {"GET": WORKSPACE_ENDPOINT})


@csrf_exempt
@login_not_required
def not_found_view(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under the API answers Instantly-style 404 JSON, not the portal's page."""
    return _serve(request, {})
