"""Order templates and "order again": the templates page, saving an order's shape, and the
drafts made from a template or a past order (docs/planning.md, "Templates and order again").

A new draft opens in the builder, which runs the live quote and shows the background check
of its new domains; what could not be found is said there as messages, never as an error
page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orders import order_templates
from orders.access import WorkspaceRequest, workspace_view
from orders.models import Order, OrderTemplate
from orders.order_shapes import ShapedDraft
from orders.order_template_forms import TemplateDraftForm, TemplateSaveForm


def _order(request: WorkspaceRequest, pk: int) -> Order:
    order = get_object_or_404(Order.objects.in_workspace(request.workspace), pk=pk)
    order.workspace = request.workspace
    return order


def _template(request: WorkspaceRequest, pk: int) -> OrderTemplate:
    return get_object_or_404(
        OrderTemplate.objects.in_workspace(request.workspace), pk=pk
    )


def _templates_url(request: WorkspaceRequest) -> str:
    return reverse("orders:templates", kwargs={"slug": request.workspace.slug})


def _to_builder(request: WorkspaceRequest, made: ShapedDraft) -> HttpResponse:
    """Say on the builder what the new draft got and what it lacks."""
    count = made.order.items.count()
    messages.success(
        request,
        f"New draft with {count} new domain{'s' if count != 1 else ''}"
        + (
            "; their availability is being checked in the background (Find domains)."
            if made.check
            else "."
        ),
    )
    for problem in made.problems:
        messages.warning(request, problem)
    return redirect(
        reverse(
            "orders:build", kwargs={"slug": request.workspace.slug, "pk": made.order.pk}
        )
    )


def _page(
    request: WorkspaceRequest,
    *,
    failed: OrderTemplate | None = None,
    form: TemplateDraftForm | None = None,
) -> HttpResponse:
    rows = order_templates.template_rows(
        workspace=request.workspace, membership=request.membership
    )
    return render(
        request,
        "orders/templates.html",
        {"rows": rows, "failed_pk": failed.pk if failed else None, "draft_form": form},
    )


@require_GET
@workspace_view()
def templates_page(request: WorkspaceRequest, slug: str) -> HttpResponse:
    return _page(request)


@require_http_methods(["GET", "POST"])
@workspace_view()
def template_save(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    """The order page's "Save as template": htmx swaps the form in place; without it, this
    page keeps the typed name beside the error."""
    order = _order(request, pk)
    form = TemplateSaveForm(request.POST or None, initial={"name": order.display_name})
    saved = None
    if request.method == "POST" and form.is_valid():
        try:
            saved = order_templates.order_template_create(
                order=order, by=request.user, name=form.cleaned_data["name"]
            )
        except order_templates.TemplateNameTaken as exc:
            form.add_error("name", str(exc))
        except order_templates.TemplateError as exc:
            form.add_error(None, str(exc))
    if saved is not None and not request.htmx:
        messages.success(request, f"Saved the template “{saved.name}”.")
        return redirect(_templates_url(request))
    template = "orders/template_save.html"
    if request.htmx:
        template += "#template-save"
    return render(
        request, template, {"order": order, "template_form": form, "saved": saved}
    )


@require_POST
@workspace_view()
def template_draft(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    template = _template(request, pk)
    form = TemplateDraftForm(request.POST)
    if not form.is_valid():
        return _page(request, failed=template, form=form)
    try:
        made = order_templates.template_draft(
            template=template, by=request.user, seeds=form.cleaned_data["seeds"]
        )
    except order_templates.TemplateError as exc:
        messages.error(request, str(exc))
        return redirect(_templates_url(request))
    return _to_builder(request, made)


@require_POST
@workspace_view()
def template_delete(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    template = _template(request, pk)
    try:
        order_templates.order_template_delete(
            template=template, membership=request.membership
        )
    except order_templates.TemplateError as exc:
        raise PermissionDenied(str(exc)) from None
    messages.success(request, f"Deleted the template “{template.name}”.")
    return redirect(_templates_url(request))


@require_POST
@workspace_view()
def order_again(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    try:
        made = order_templates.order_again(order=order, by=request.user)
    except order_templates.TemplateError as exc:
        messages.error(request, str(exc))
        return redirect(order)
    return _to_builder(request, made)
