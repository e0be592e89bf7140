"""Pages and actions of the money path: the approval inbox, approve / reject, the order page's
live progress, resolving an order that needs attention, and cancelling mailboxes.

Each view scopes the order to the URL's workspace (404 elsewhere), requires its role (403
below it), calls one service and answers htmx with a fragment, plain requests with a page or
a redirect (post/redirect/get). What the pages show is built in `approval_inbox` and
`order_page`, which the template tags use too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    HttpResponseStopPolling,
    trigger_client_event,
)

from orders import cancellation, cancellation_runs, workflow
from orders.access import WorkspaceRequest, workspace_view
from orders.approval_inbox import approval_entries
from orders.models import CancellationRun, Mailbox, MailboxStatus, Order, Role
from orders.order_page import detail_context, order_panel

# --- Forms ----------------------------------------------------------------------------------


class DecisionForm(forms.Form):
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    quote = forms.IntegerField(required=False, widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class RejectForm(DecisionForm):
    comment = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the order is rejected."},
    )


class ResolveForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("mark_placed", "Mark placed"), ("resubmit", "Re-submit")]
    )
    comment = forms.CharField(required=False, max_length=2000)


class CancelForm(forms.Form):
    mailbox = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=[])
    domain = forms.MultipleChoiceField(required=False, choices=[])
    confirmation = forms.CharField(required=False, max_length=100)
    step = forms.ChoiceField(choices=[("preview", "Preview"), ("confirm", "Confirm")])

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        live = Mailbox.objects.filter(item__order=order).exclude(
            status=MailboxStatus.CANCELLED
        )
        cast("forms.ChoiceField", self.fields["mailbox"]).choices = [
            (m.pk, str(m.pk)) for m in live
        ]
        cast("forms.ChoiceField", self.fields["domain"]).choices = [
            (d, d) for d in order.items.values_list("domain", flat=True)
        ]

    @property
    def mailbox_ids(self) -> Sequence[int]:
        return list(self.cleaned_data.get("mailbox") or [])

    @property
    def domains(self) -> Sequence[str]:
        return list(self.cleaned_data.get("domain") or [])


# --- Views ------------------------------------------------------------------------------


def _order(request: WorkspaceRequest, pk: int) -> Order:
    return get_object_or_404(
        Order.objects.in_workspace(request.workspace).select_related(
            "workspace", "requester", "approved_quote"
        ),
        pk=pk,
    )


def _next_url(request: WorkspaceRequest, candidate: str, default: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


@require_GET
@workspace_view(min_role=Role.LEAD)
def approvals(request: WorkspaceRequest, slug: str) -> HttpResponse:
    context = {"entries": approval_entries(membership=request.membership)}
    partial = request.htmx and not request.htmx.history_restore_request
    template = (
        "orders/approvals.html#approval-list" if partial else "orders/approvals.html"
    )
    return render(request, template, context)


@require_GET
@workspace_view()
def approvals_count(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """The navigation link's count; re-fetched when an order is decided or submitted."""
    return render(request, "orders/approvals.html#approvals-nav")


@require_POST
@workspace_view(min_role=Role.LEAD)
def order_approve(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    return _decide(
        request,
        pk,
        DecisionForm,
        invalid="Check the form.",
        decide=lambda order, data: workflow.order_approve(
            order=order,
            by=request.user,
            comment=data["comment"],
            quote_id=data["quote"],
        ),
        done="{order} approved: it is being placed with Instantly.",
    )


@require_POST
@workspace_view(min_role=Role.LEAD)
def order_reject(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    return _decide(
        request,
        pk,
        RejectForm,
        invalid="Say why the order is rejected.",
        decide=lambda order, data: workflow.order_reject(
            order=order, by=request.user, comment=data["comment"]
        ),
        done="{order} rejected; the requester is told.",
    )


def _decide(
    request: WorkspaceRequest,
    pk: int,
    form_class: type[DecisionForm],
    *,
    invalid: str,
    decide: Callable[[Order, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    """Approve and reject alike: check the form, call the service with the cleaned data, and
    answer with what happened (`done` names the order as `{order}`)."""
    order = _order(request, pk)
    form = form_class(request.POST)
    if not form.is_valid():
        return _decided(request, order, form, ok=False, message=invalid)
    try:
        decide(order, form.cleaned_data)
    except workflow.WorkflowError as exc:
        return _decided(request, order, form, ok=False, message=str(exc))
    return _decided(request, order, form, ok=True, message=done.format(order=order))


def _decided(
    request: WorkspaceRequest,
    order: Order,
    form: DecisionForm,
    *,
    ok: bool,
    message: str,
) -> HttpResponse:
    """htmx: the order's card, updated in place, and `orderDecided` for the nav count.
    Plain: a message and back to where the form was (the inbox by default)."""
    if request.htmx:
        entries = approval_entries(membership=request.membership, order_pk=order.pk)
        response = render(
            request,
            "orders/approvals.html#approval-card",
            {"entry": entries[0], "notice": message, "ok": ok},
        )
        if ok:
            trigger_client_event(response, "orderDecided", {"id": order.pk})
        return response
    (messages.success if ok else messages.error)(request, message)
    default = reverse("orders:approvals", kwargs={"slug": request.workspace.slug})
    next_value = str(request.POST.get("next", ""))
    return HttpResponseRedirect(_next_url(request, next_value, default))


@require_GET
@workspace_view()
def order_progress(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    """The order page's live part (status, progress bar, timeline), polled every 2 s while the
    order is in flight: 286 stops the polling once it is done; a status change reloads the
    page so its actions match the new status."""
    order = _order(request, pk)
    if not request.htmx:
        return HttpResponseRedirect(order.get_absolute_url())
    shown = str(request.GET.get("status", ""))
    if shown and shown != order.status:
        return HttpResponseClientRefresh()
    context = {
        "order": order,
        "wf": order_panel(order=order, membership=request.membership),
        "items": order.items.prefetch_related("mailboxes"),
        "events": order.events.select_related("actor"),
        # The timeline sits elsewhere on the page: it rides along out of band.
        "oob": True,
    }
    response = render(request, "orders/order_detail.html#order-live", context)
    if not order.is_live:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_POST
@workspace_view(min_role=Role.LEAD)
def order_resolve(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    """A person settles an order that needs attention: mark it placed, or re-submit it."""
    order = _order(request, pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how to resolve the order.")
    else:
        action = form.cleaned_data["action"]
        service = (
            workflow.order_mark_placed
            if action == "mark_placed"
            else workflow.order_resubmit
        )
        try:
            service(order=order, by=request.user, comment=form.cleaned_data["comment"])
        except workflow.WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                "Marked as placed."
                if action == "mark_placed"
                else "Re-submitted as a new attempt: Instantly is asked for a new quote first.",
            )
    url = order.get_absolute_url()
    return (
        HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)
    )


@require_http_methods(["GET", "POST"])
@workspace_view(min_role=Role.LEAD)
def order_cancel(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    """Choose mailboxes (or whole domains) → preview the consequences → type the phrase → a
    run queued for a worker, which sends the one cancel call (never this request). GET: the
    state of the order's latest run, which the order page polls while it runs."""
    order = _order(request, pk)
    if request.method == "GET":
        return _cancel_run_state(request, order)
    form = CancelForm(request.POST or None, order=order)
    context: dict[str, Any] = {"cancel_form": form, "preview": None}
    if form.is_valid():
        try:
            preview = cancellation.cancellation_preview(
                order=order, mailbox_ids=form.mailbox_ids, domains=form.domains
            )
            context["preview"] = preview
            if form.cleaned_data["step"] == "confirm":
                run = cancellation_runs.cancellation_request(
                    order=order,
                    by=request.user,
                    mailbox_ids=form.mailbox_ids,
                    domains=form.domains,
                    confirmation=form.cleaned_data["confirmation"],
                )
                return _cancel_queued(request, run)
        except cancellation.CancelError as exc:
            form.add_error(None, str(exc))
    if request.htmx:
        context.update(
            order=order,
            wf=order_panel(order=order, membership=request.membership),
        )
        return render(request, "orders/order_detail.html#cancel-panel", context)
    context.update(detail_context(order))
    context["wf"] = order_panel(order=order, membership=request.membership)
    return render(request, "orders/order_detail.html", context)


def _cancel_queued(request: WorkspaceRequest, run: CancellationRun) -> HttpResponse:
    """Back to the order page, which shows the run until it ends and then the result per
    mailbox; htmx follows with a client redirect."""
    count = f"{run.total} mailbox{'es' if run.total != 1 else ''}"
    messages.success(
        request,
        f"Cancellation queued: {count} will be cancelled at Instantly in the background; "
        "this page shows the result.",
    )
    url = run.order.get_absolute_url()
    if not request.htmx:
        return HttpResponseRedirect(url)
    response = HttpResponseClientRedirect(url)
    return trigger_client_event(
        response, "cancellationQueued", {"id": run.order_id, "run": run.pk}
    )


def _cancel_run_state(request: WorkspaceRequest, order: Order) -> HttpResponse:
    """The latest run's block, polled every 2 s while it runs. Once the run the block showed
    (`?run=`) has ended the whole page reloads, since the order's status, mailboxes, results
    and timeline changed with it; 286 stops a poll with nothing left to wait for. Without
    htmx: the order page, which shows the block itself."""
    if not request.htmx:
        return HttpResponseRedirect(order.get_absolute_url())
    run = cancellation_runs.cancellation_run_latest(order)
    if run is not None and run.is_finished and request.GET.get("run") == str(run.pk):
        return HttpResponseClientRefresh()
    running = run is not None and not run.is_finished
    response = render(
        request,
        "orders/order_detail.html#cancel-run",
        {"order": order, "cancel_run": run, "polls_cancel_run": running},
    )
    if not running:
        response.status_code = HttpResponseStopPolling.status_code
    return response
