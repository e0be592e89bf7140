"""The credential reveal page and its CSV download (orders/credentials.py does the work).

GET shows the confirm step; only a POST fetches, records and shows the passwords, in that
one response (docs/security.md, "Credential reveals"): a reload asks to send the POST again,
which is a new audited reveal, and nothing else ever shows them. Every answer here is
`no-store`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from orders import conf, credentials
from orders.access import WorkspaceRequest, workspace_view
from orders.models import Order

TEMPLATE = "orders/credentials.html"


def _no_store(response: HttpResponse) -> HttpResponse:
    # Pragma and Expires for old proxies and browsers that ignore Cache-Control.
    response["Cache-Control"] = "no-store, max-age=0"
    response["Pragma"] = "no-cache"
    response["Expires"] = "0"
    return response


def _order(request: WorkspaceRequest, pk: int) -> Order:
    if not credentials.may_reveal(request.membership):
        raise PermissionDenied(credentials.NOT_ALLOWED)
    order = get_object_or_404(Order.objects.in_workspace(request.workspace), pk=pk)
    order.workspace = request.workspace  # already loaded by the access check
    return order


def _context(order: Order) -> dict[str, object]:
    return {
        "order": order,
        "revealable": credentials.is_revealable(order),
        "told": credentials.recipients(order),
        "seconds": conf.credentials_reveal_seconds(),
    }


@require_http_methods(["GET", "POST"])
@workspace_view()
@sensitive_variables()
def order_credentials(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    """Leads and admins: the confirm step (GET), or the passwords themselves (POST)."""
    order = _order(request, pk)
    context = _context(order)
    if request.method == "POST":
        try:
            context["reveal"] = credentials.credentials_reveal(
                order=order, by=request.user
            )
        except credentials.CredentialsProblem as exc:
            context["problem"] = exc.message
    return _no_store(render(request, TEMPLATE, context))


@require_POST
@workspace_view()
@sensitive_variables()
def order_credentials_csv(
    request: WorkspaceRequest, slug: str, pk: int
) -> HttpResponse:
    """Leads and admins: the same fetch as a CSV file for a sequencer import."""
    order = _order(request, pk)
    try:
        _reveal, text = credentials.credentials_download(order=order, by=request.user)
    except credentials.CredentialsProblem as exc:
        return _no_store(
            render(request, TEMPLATE, {**_context(order), "problem": exc.message})
        )
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="order-{order.pk}-credentials.csv"'
    )
    return _no_store(response)
