"""The forwarding panel of an owned domain: see, change (with mode), remove, read again.

One view serves the panel three ways: as an htmx fragment (the order page and the owned
domains list swap it in place), as a page of its own (links and every request without
JavaScript), and as the target of the panel's forms. Plain posts that succeed redirect back
to where the person came from; problems are shown on the panel with what they typed.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from orders import forwarding
from orders.access import WorkspaceRequest, workspace_view
from orders.forwarding_panel import Panel, panel_for, panel_form

ACTIONS = ("set", "remove", "read")


def _next_url(request: WorkspaceRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return candidate
    return default


@require_http_methods(["GET", "POST"])
@workspace_view()
def domain_forwarding(
    request: WorkspaceRequest, slug: str, domain: str
) -> HttpResponse:
    """Operators and up: forwarding spends no money. 404 for a domain the workspace does
    not own (or owns no longer)."""
    workspace = request.workspace
    try:
        name = forwarding.owned_domain(workspace=workspace, domain=domain)
    except forwarding.DomainNotOwned:
        raise Http404("This workspace owns no such domain.") from None
    on_order = request.POST.get("on_order") == "1" or request.GET.get("on_order") == "1"
    order = forwarding.buying_order(workspace=workspace, domain=name)
    panel = panel_for(
        workspace=workspace,
        domain=name,
        order=order if on_order else None,
    )
    panel.next = _next_url(request, panel.url)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            panel.problem = forwarding.ForwardingProblem(
                "Choose what to do: set, remove or read the forwarding.", code="refused"
            )
        else:
            _act(request, panel, action)
        # Success leaves no problem and a fresh (unbound) form behind.
        if panel.problem is None and not panel.form.is_bound and not request.htmx:
            messages.success(request, panel.notice)
            return HttpResponseRedirect(panel.next)
    if request.htmx:
        html = render_to_string(
            "orders/_forwarding.html#panel", {"panel": panel}, request=request
        )
        changed = panel.problem is None and not panel.form.is_bound
        if request.method == "POST" and changed and on_order and order is not None:
            # The order page's timeline shows the change without a reload.
            html += render_to_string(
                "orders/order_detail.html#timeline",
                {"events": order.events.select_related("actor"), "oob": True},
                request=request,
            )
        return HttpResponse(html)
    return render(request, "orders/forwarding_page.html", {"panel": panel})


def _act(request: WorkspaceRequest, panel: Panel, action: str) -> None:
    """Run the action; on success the panel shows the new state and a fresh form, on a
    problem the bound form (what was typed) and the problem in plain words."""
    workspace = request.workspace
    try:
        if action == "set":
            form = panel_form(panel.domain, panel.state, request.POST)
            panel.form = form
            if not form.is_valid():
                return
            state = forwarding.forwarding_set(
                workspace=workspace,
                domain=panel.domain,
                forwarding_domain=form.cleaned_data["forwarding_domain"],
                forwarding_mode=form.cleaned_data["forwarding_mode"],
                by=request.user,
            )
            panel.notice = f"Saved at Instantly: {state.describe()}."
        elif action == "remove":
            state = forwarding.forwarding_remove(
                workspace=workspace, domain=panel.domain, by=request.user
            )
            panel.notice = f"Removed at Instantly: {state.describe()}."
        else:
            state = forwarding.forwarding_get(workspace=workspace, domain=panel.domain)
            panel.notice = f"Read from Instantly: {state.describe()}."
    except forwarding.ForwardingProblem as exc:
        panel.problem = exc
        return
    except forwarding.DomainNotOwned:
        raise Http404("This workspace owns no such domain.") from None
    panel.state = state
    panel.form = panel_form(panel.domain, state)
