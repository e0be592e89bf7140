"""The capacity planner page: alternatives that update as the operator types, and "Create
draft" for one of them (docs/planning.md, "Capacity planner"). Operators and up."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from orders import plan_drafts, plan_sources
from orders.access import WorkspaceRequest, workspace_view
from orders.capacity_plan import DEFAULT_SENDS_PER_MAILBOX
from orders.planner_forms import PlannerForm, initial_data, sends_field, share_field
from orders.rules import DFY, PROVIDER_RULES

TEMPLATE = "orders/planner.html"


def _context(request: WorkspaceRequest, form: PlannerForm) -> dict[str, Any]:
    context: dict[str, Any] = {
        "form": form,
        "providers": [
            {
                "code": p,
                "label": rule.label,
                "rule": rule.rule,
                "sends": form[sends_field(p)],
                "share": form[share_field(p)],
                "default": DEFAULT_SENDS_PER_MAILBOX[p],
            }
            for p, rule in PROVIDER_RULES.items()
        ],
        "errors": [],
        "view": None,
    }
    if form.is_valid():
        context["view"] = plan_sources.plan_for(
            workspace=request.workspace, inputs=form.inputs()
        )
    else:
        context["errors"] = form.error_lines()
    return context


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def planner_page(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = PlannerForm(request.GET or initial_data())
    template = TEMPLATE
    if request.htmx and not request.htmx.history_restore_request:
        template += "#plan-results"
    return render(request, template, _context(request, form))


@require_POST
@workspace_view()
def planner_create(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """Create a draft of the chosen alternative; without one (the no-script "Update" button)
    or with a problem, the page again with what was typed."""
    form = PlannerForm(request.POST)
    context = _context(request, form)
    view: plan_sources.PlanView | None = context["view"]
    key = request.POST.get("alternative", "")
    if view is None or not key:
        return render(request, TEMPLATE, context)
    row = next((r for r in view.rows if r.alternative.key == key), None)
    chosen = row.alternative if row else None
    problem = ""
    if row is None or chosen is None or not chosen.lines:
        problem = "That plan is no longer offered (the inputs or the stock changed); choose again."
    elif row.limit:
        problem = row.limit
    elif chosen.kind == DFY and not form.seed_names():
        problem = (
            "Brand or seed names: enter at least one name to find new domains for."
        )
    if chosen is None or problem:
        context["errors"] = [problem]
        return render(request, TEMPLATE, context, status=200)
    result = plan_drafts.plan_draft_create(
        workspace=request.workspace,
        by=request.user,
        alternative=chosen,
        seeds=form.seed_names(),
        title=f"Plan: {chosen.target:,} sends a day ({chosen.kind_label}, {chosen.mix_label})"[
            :120
        ],
    )
    for text in result.problems:
        messages.warning(request, text)
    url = reverse("orders:build", args=[request.workspace.slug, result.order.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)
