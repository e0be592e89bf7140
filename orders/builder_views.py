"""The order builder: one page per draft, one form, named actions (docs/architecture.md).

Typing autosaves (htmx, debounced, `queue last`) and answers with out-of-band fragments only:
the new version, the quote panel and each row's findings, so nothing the user is typing is
swapped away. Buttons (add, remove, generate, import ...) post the same form with a named
action and get the whole builder back. Without JavaScript the same buttons and a "Save and
quote" button do post/redirect/get.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseStopPolling,
    reswap,
    retarget,
)

from orders import drafts, finders
from orders.access import WorkspaceRequest, workspace_view
from orders.builder_actions import Action, apply_action
from orders.builder_forms import (
    BuilderPost,
    CsvImportForm,
    NewOrderForm,
    parse_builder_post,
)
from orders.builder_page import page_context, quote_context
from orders.builder_quote import quote_now
from orders.domains import Rejection, parse_domain_list
from orders.draft_import import order_draft_import_csv
from orders.mailboxes import export_csv
from orders.models import DomainCheck, Order, OrderStatus
from orders.order_page import detail_context
from orders.rules import DraftItem


def _order(request: WorkspaceRequest, pk: int) -> Order:
    order = get_object_or_404(Order.objects.in_workspace(request.workspace), pk=pk)
    order.workspace = request.workspace  # already loaded by the access check
    return order


def _builder_url(order: Order) -> str:
    return reverse(
        "orders:build", kwargs={"slug": order.workspace.slug, "pk": order.pk}
    )


@require_http_methods(["GET", "POST"])
@workspace_view()
def order_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = NewOrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = drafts.order_draft_create(
            workspace=request.workspace,
            by=request.user,
            order_type=form.cleaned_data["order_type"],
            title=form.cleaned_data["title"],
        )
        return redirect(_builder_url(order))
    return render(request, "orders/order_new.html", {"form": form})


@require_http_methods(["GET", "POST"])
@workspace_view(with_key=True)
def order_build(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    if not order.is_editable:
        return redirect(order)
    if request.method == "GET":
        return render(
            request, "orders/builder.html", page_context(order, request=request)
        )

    posted = parse_builder_post(request.POST)
    action = Action.from_post(request.POST)
    if not posted.ok:
        context = page_context(
            order, request=request, posted=posted, form_data=request.POST
        )
        return _whole_builder(request, context)
    items = apply_action(action, posted, request.POST, order=order)
    if items.errors:
        # Nothing is saved: the page comes back with what was typed and why.
        context = page_context(
            order,
            request=request,
            posted=posted,
            action_errors=items.errors,
            form_data=request.POST,
        )
        return _whole_builder(request, context)
    try:
        if action.name == "undo":
            order = _undo(request, order, action, posted, items.items)
        else:
            order = drafts.order_draft_save(
                order=order,
                by=request.user,
                version=posted.version or 0,
                items=items.items,
                order_type=action.value
                if action.name == "switch_type"
                else posted.order_type,
                title=posted.title,
                undo_label=items.undo_label,
                shown=posted.items,
            )
    except drafts.DraftConflict as exc:
        messages.warning(request, str(exc))
        return _whole_builder(
            request, page_context(_order(request, pk), request=request)
        )
    except drafts.DraftLocked as exc:
        messages.error(request, str(exc))
        return _client_redirect(request, order.get_absolute_url())
    except drafts.DraftError as exc:
        messages.error(request, str(exc))
        return _whole_builder(
            request, page_context(_order(request, pk), request=request)
        )
    for note in items.notes:
        messages.info(request, note)
    outcome = quote_now(order)
    if not request.htmx:
        return HttpResponseRedirect(_builder_url(order))
    # The generator's fields are shown again unless rows moved under them.
    same_rows = action.name != "undo" and len(items.items) == len(posted.items)
    context = page_context(
        order,
        request=request,
        outcome=outcome,
        form_data=request.POST if same_rows else None,
    )
    if action.is_autosave:
        response = render(request, "orders/builder.html#autosave", context)
        return reswap(response, "none")
    return _whole_builder(request, context)


def _undo(
    request: WorkspaceRequest,
    order: Order,
    action: Action,
    posted: BuilderPost,
    typed: list[DraftItem],
) -> Order:
    """Restore a snapshot (raises DraftError when it is gone or the value is not one)."""
    try:
        snapshot_id = int(action.value)
    except ValueError:
        raise drafts.DraftError(
            "That undo is not available; the draft was not changed."
        ) from None
    order, label = drafts.order_draft_undo(
        order=order,
        by=request.user,
        version=posted.version or 0,
        snapshot_id=snapshot_id,
        order_type=posted.order_type,
        title=posted.title,
        typed=typed,
    )
    messages.success(request, f"Undone: {label}. The draft is back as it was before.")
    return order


def _whole_builder(
    request: WorkspaceRequest, context: dict[str, object]
) -> HttpResponse:
    if not request.htmx:
        return render(request, "orders/builder.html", context)
    response = render(request, "orders/builder.html#builder-response", context)
    return reswap(retarget(response, "#builder"), "outerHTML")


def _client_redirect(request: WorkspaceRequest, url: str) -> HttpResponse:
    return (
        HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)
    )


@require_POST
@workspace_view(with_key=True)
def order_quote(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    """Re-quote the saved draft (the quote panel's retry, and the benchmark's round trip)."""
    # The order (only the columns this path reads: an order row is wide) with its draft, in
    # one query, read once for the payload and the panel's problem links: this runs per
    # keystroke (docs/performance.md, "Quote overhead"; its query count is pinned in a test).
    found = drafts.quote_order_with_draft_read(request.workspace, pk)
    if found is None:
        raise Http404("No such order.")
    order, draft = found
    if not order.is_editable:
        return redirect(order)
    outcome = quote_now(order, draft)
    if not request.htmx:
        return HttpResponseRedirect(_builder_url(order))
    return render(
        request,
        "orders/builder.html#quote-response",
        quote_context(order, outcome, draft=draft),
    )


@require_GET
@workspace_view()
def order_suggest(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    form = finders.SuggestForm(request.GET)
    context: dict[str, object] = {"order": order, "form": form, "finder": "suggestions"}
    if not request.htmx:
        context["items"] = drafts.draft_items(order)
    if form.is_valid():
        context.update(finders.suggestions(order=order, **form.cleaned_data))
    template = (
        "orders/_finders.html#suggestions"
        if request.htmx
        else "orders/finder_page.html"
    )
    return render(request, template, context)


@require_POST
@workspace_view()
def order_check(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    # No TLD policy here: an unsupported TLD is a result badge, not a paste error.
    parsed = parse_domain_list(str(request.POST.get("domains", "")))
    context: dict[str, object] = {"order": order}
    invalid = {r.token: r.reason for r in parsed.rejected if r.token}
    if parsed.domains or invalid:
        check = finders.domain_check_start(
            order=order, by=request.user, domains=parsed.domains, invalid=invalid
        )
        context.update(finders.check_context(check))
    else:
        context["rejected"] = [
            Rejection(line=1, token="", reason="Paste at least one domain.")
        ]
    if not request.htmx:
        messages.info(
            request,
            "Checking availability in the background; this page updates as results arrive.",
        )
        return HttpResponseRedirect(_builder_url(order))
    return render(request, "orders/_domain_check.html", context)


@require_GET
@workspace_view()
def order_check_status(
    request: WorkspaceRequest, slug: str, pk: int, check_pk: int
) -> HttpResponse:
    order = _order(request, pk)
    check = get_object_or_404(
        DomainCheck.objects.filter(workspace=request.workspace, order=order),
        pk=check_pk,
    )
    response = render(
        request,
        "orders/_domain_check.html",
        {"order": order, **finders.check_context(check)},
    )
    if check.is_finished and request.htmx:
        # 286 tells htmx to stop polling; the final state is still swapped in.
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_GET
@workspace_view()
def order_prewarmed(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    context: dict[str, object] = {"order": order, "finder": "prewarmed"}
    if not request.htmx:
        context["items"] = drafts.draft_items(order)
    context.update(
        finders.prewarmed_stock(
            order=order,
            search=str(request.GET.get("search", "")),
            extensions=request.GET.getlist("ext"),
        )
    )
    template = (
        "orders/_finders.html#prewarmed" if request.htmx else "orders/finder_page.html"
    )
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@workspace_view()
def order_owned(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    if request.method == "POST":
        finders.owned_refresh_start(workspace=request.workspace)
    context = {
        "order": order,
        "finder": "owned",
        "items": drafts.draft_items(order),
        **finders.owned_domains(
            workspace=request.workspace,
            search=str(request.GET.get("search", request.POST.get("search", ""))),
        ),
    }
    template = (
        "orders/_finders.html#owned" if request.htmx else "orders/finder_page.html"
    )
    return render(request, template, context)


@require_GET
@workspace_view()
def order_csv_export(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    items = drafts.draft_items(order)
    response = HttpResponse(
        export_csv((item.domain, item.mailboxes) for item in items),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="order-{order.pk}-mailboxes.csv"'
    )
    return response


@require_POST
@workspace_view()
def order_csv_import(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    form = CsvImportForm(request.POST, request.FILES)
    valid = form.is_valid()
    problems = form.problems()
    if valid:
        try:
            order_draft_import_csv(
                order=order,
                by=request.user,
                version=form.cleaned_data["version"],
                imported=form.imported,
            )
        except drafts.DraftError as exc:
            problems = [str(exc)]
        else:
            messages.success(
                request,
                f"Imported {form.imported_count} mailbox{'' if form.imported_count == 1 else 'es'} from {form.cleaned_data['file'].name}.",
            )
            # Price the imported draft now, so the page it lands on shows the quote.
            quote_now(order)
            return HttpResponseRedirect(_builder_url(order))
    context = page_context(order, request=request)
    context["csv_errors"] = problems
    return render(request, "orders/builder.html", context, status=200)


@require_POST
@workspace_view()
def order_submit(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    try:
        order = drafts.order_submit(
            order=order,
            by=request.user,
            version=int(str(request.POST.get("version", "0")) or 0),
            fingerprint=str(request.POST.get("fingerprint", "")),
        )
    except (drafts.DraftError, ValueError) as exc:
        messages.error(request, str(exc))
        return _client_redirect(request, _builder_url(order))
    messages.success(
        request, f"{order} was submitted: {order.get_status_display().lower()}."
    )
    return _client_redirect(request, order.get_absolute_url())


@require_http_methods(["GET", "POST"])
@workspace_view()
def order_detail(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    if request.method == "POST" and "reopen" in request.POST:
        try:
            drafts.order_reopen(order=order, by=request.user)
        except drafts.ReopenRefused as exc:
            messages.error(request, str(exc))
            return render(
                request,
                "orders/order_detail.html",
                _detail_context(order, request),
                status=403,
            )
        except drafts.DraftError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(order.get_absolute_url())
        messages.info(
            request,
            "Back to draft. Submitting again needs a new quote and a new approval.",
        )
        return HttpResponseRedirect(_builder_url(order))
    # Editable orders open in the builder, except for the lead who just rejected one: their
    # decision is done, so they see the read-only page with the rejection on it.
    rejected_by_viewer = (
        order.status == OrderStatus.REJECTED and order.decided_by_id == request.user.pk
    )
    if order.is_editable and request.method == "GET" and not rejected_by_viewer:
        return HttpResponseRedirect(_builder_url(order))
    return render(request, "orders/order_detail.html", _detail_context(order, request))


def _detail_context(order: Order, request: WorkspaceRequest) -> dict[str, object]:
    context = detail_context(order)
    # The edit button only for those whose reopen would be accepted.
    context["can_reopen"] = (
        drafts.reopen_refusal(order=order, user=request.user) is None
    )
    return context
