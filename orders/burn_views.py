"""A delivered domain's burn panel: mark it burned, then (when the automatic part could not
be done) draft its replacement or schedule its cancellation again (orders/burns.py).

One view serves the panel as an htmx fragment on the order page, as a page of its own
(without JavaScript, and whenever a plain post is refused: what was typed stays), and as
the target of its forms. A plain post that succeeds goes back to the order page.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods

from orders import burns
from orders.access import WorkspaceRequest, workspace_view
from orders.burn_panel import BurnPanel, burn_form, burn_item, panel_for

WHAT_TO_DO = (
    "Choose what to do: mark the domain burned, draft its replacement or schedule its "
    "cancellation."
)


@require_http_methods(["GET", "POST"])
@workspace_view()
def domain_burn(
    request: WorkspaceRequest, slug: str, pk: int, item_pk: int
) -> HttpResponse:
    """Operators and up: marking spends and cancels nothing by itself. The replacement is a
    draft and the cancellation a schedule, each with its usual approval (docs/planning.md).
    404 for a domain or order of another workspace."""
    item = burn_item(workspace=request.workspace, order_pk=pk, item_pk=item_pk)
    panel = panel_for(item=item, order=item.order, membership=request.membership)
    outcome = _act(request, panel) if request.method == "POST" else None
    if outcome is not None:
        if not request.htmx:
            messages.success(request, outcome.notice)
            for problem in outcome.problems:
                messages.warning(request, problem)
            return HttpResponseRedirect(f"{item.order.get_absolute_url()}#{panel.key}")
        item = burn_item(workspace=request.workspace, order_pk=pk, item_pk=item_pk)
        panel = panel_for(item=item, order=item.order, membership=request.membership)
        panel.notice, panel.problems = outcome.notice, outcome.problems
    if request.htmx:
        html = render_to_string(
            "orders/_burn.html#burn-panel", {"panel": panel}, request=request
        )
        if outcome is not None:
            # The order page's timeline shows the new events without a reload.
            html += render_to_string(
                "orders/order_detail.html#timeline",
                {"events": item.order.events.select_related("actor"), "oob": True},
                request=request,
            )
        return HttpResponse(html)
    status = 400 if request.method == "POST" else 200
    return render(request, "orders/burn_page.html", {"panel": panel}, status=status)


def _act(request: WorkspaceRequest, panel: BurnPanel) -> burns.BurnOutcome | None:
    """Run the chosen action; on a refusal the panel keeps the typed form and the words."""
    action = request.POST.get("action", "")
    try:
        if action == "mark":
            panel.form = burn_form(panel.item, request.POST)
            if not panel.form.is_valid():
                return None
            return burns.domain_burn_mark(
                item=panel.item,
                by=request.user,
                reason=panel.form.cleaned_data["reason"],
                note=panel.form.cleaned_data["note"],
            )
        if action == "replace" and panel.burn is not None:
            return burns.domain_burn_replace(burn=panel.burn, by=request.user)
        if action == "schedule" and panel.burn is not None:
            return burns.domain_burn_schedule(burn=panel.burn, by=request.user)
        panel.error = WHAT_TO_DO
    except burns.BurnError as exc:
        panel.error = str(exc)
    return None
