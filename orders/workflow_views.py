"""Pages and actions of the money path: the approval inbox, approve / reject, the order page's
live progress, resolving an order that needs attention, and cancelling mailboxes.

Each view scopes the order to the URL's workspace (404 elsewhere), requires its role (403
below it), calls one service and answers htmx with a fragment, plain requests with a page or
a redirect (post/redirect/get).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db.models import Count, F, Q
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

from orders import builder, cancellation, workflow
from orders.access import WorkspaceRequest, workspace_view
from orders.models import (
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderEvent,
    OrderStatus,
    Quote,
    Role,
)

DRIFT_LABELS = {
    "due_now": "Due now",
    "per_month": "Per month",
    "per_year": "Per year",
    "discount": "Discount",
    "valid": "Instantly accepts the order",
    "order_error": "Instantly's objection",
    "fingerprint": "Exact order contents (fingerprint)",
}
MONEY_FIELDS = frozenset({"due_now", "per_month", "per_year", "discount"})
# Domains named on an approval card before "and N more".
CARD_DOMAINS = 8


# --- What the pages show ----------------------------------------------------------------


@dataclass(frozen=True)
class DriftRow:
    label: str
    before: str
    after: str


def drift_rows(drift: dict[str, Any]) -> list[DriftRow]:
    rows = []
    for key, label in DRIFT_LABELS.items():
        pair = drift.get(key)
        if not isinstance(pair, list) or len(pair) != 2:
            continue
        before, after = pair
        if key in MONEY_FIELDS:
            before, after = f"${Decimal(before):,.2f}", f"${Decimal(after):,.2f}"
        elif key == "fingerprint":
            before, after = str(before)[:12], str(after)[:12]
        elif key == "valid":
            before, after = ("yes" if before else "no"), ("yes" if after else "no")
        rows.append(DriftRow(label=label, before=str(before), after=str(after)))
    return rows


@dataclass(frozen=True)
class ApprovalEntry:
    order: Order
    quote: Quote | None
    check: workflow.ApprovalCheck
    domains: list[str]
    more_domains: int
    mailbox_count: int
    drift: list[DriftRow]


def approval_entries(
    *, membership: Membership, order_pk: int | None = None
) -> list[ApprovalEntry]:
    """The inbox: every request waiting in the workspace (or just one), with its check."""
    rows = (
        Order.objects.in_workspace(membership.workspace)
        .select_related("requester", "submitted_by", "approved_quote", "workspace")
        .prefetch_related("items")
        .annotate(mailbox_count=Count("items__mailboxes"))
        .order_by("submitted_at", "pk")
    )
    orders = list(
        rows.filter(pk=order_pk) if order_pk is not None else rows.awaiting_decision()
    )
    committed = workflow.committed_monthly_spend(workspace=membership.workspace)
    editors = workflow.order_editors(order.pk for order in orders)
    entries = []
    for order in orders:
        domains = [item.domain for item in order.items.all()]
        entries.append(
            ApprovalEntry(
                order=order,
                quote=order.approved_quote,
                check=workflow.approval_check(
                    order=order,
                    membership=membership,
                    committed=committed,
                    editors=editors.get(order.pk, {}),
                ),
                domains=domains[:CARD_DOMAINS],
                more_domains=max(0, len(domains) - CARD_DOMAINS),
                mailbox_count=getattr(order, "mailbox_count", 0),
                drift=drift_rows(order.drift),
            )
        )
    return entries


def approvals_waiting(*, membership: Membership | None) -> int:
    return workflow.pending_approvals_for(membership=membership)


@dataclass(frozen=True)
class Progress:
    total: int = 0
    ready: int = 0
    provisioning: int = 0
    cancelled: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.ready / self.total) if self.total else 0


@dataclass(frozen=True)
class DomainChoice:
    domain: str
    mailboxes: list[Mailbox] = field(default_factory=list)


@dataclass(frozen=True)
class OrderPanel:
    order: Order
    progress: Progress
    is_live: bool
    may_decide: bool
    check: workflow.ApprovalCheck | None
    may_resolve: bool
    may_cancel: bool
    drift: list[DriftRow]
    refusal_lists: list[tuple[str, str]]
    invalid_accounts: list[dict[str, str]]
    cancellation_results: list[tuple[str, str]]
    cancel_choices: list[DomainChoice]


def progress_for(order: Order) -> Progress:
    counts = Mailbox.objects.filter(item__order=order).aggregate(
        total=Count("pk", filter=~Q(status=MailboxStatus.CANCELLED)),
        ready=Count("pk", filter=Q(status=MailboxStatus.READY)),
        provisioning=Count("pk", filter=Q(status=MailboxStatus.PROVISIONING)),
        cancelled=Count("pk", filter=Q(status=MailboxStatus.CANCELLED)),
    )
    return Progress(**counts)


def order_panel(*, order: Order, membership: Membership | None) -> OrderPanel:
    is_lead = membership is not None and membership.is_lead
    may_decide = is_lead and order.awaits_decision
    may_cancel = is_lead and order.can_cancel()
    refusal = order.refusal or {}
    lists = refusal.get("lists", {})
    return OrderPanel(
        order=order,
        progress=progress_for(order),
        is_live=order.is_live,
        may_decide=may_decide,
        check=workflow.approval_check(order=order, membership=membership)
        if may_decide
        else None,
        may_resolve=is_lead and order.status in workflow.RESOLVABLE,
        may_cancel=may_cancel,
        drift=drift_rows(order.drift),
        refusal_lists=[
            (name.replace("_", " ").capitalize(), ", ".join(str(v) for v in values))
            for name, values in (lists.items() if isinstance(lists, dict) else [])
        ],
        invalid_accounts=list(refusal.get("invalid_accounts", [])),
        cancellation_results=cancellation.last_cancellation(order),
        cancel_choices=_cancel_choices(order) if may_cancel else [],
    )


def rejection_notice(order: Order) -> OrderEvent | None:
    """The rejection an editable order is back with, until it is submitted again.

    Revising (rejected -> draft) and reopening move the status back to draft without ending
    what the rejection asked for, so those moves are skipped; any later submission or
    decision ends it."""
    if not order.is_editable or order.decided_at is None:
        return None  # never decided: no rejection, and no query for a fresh draft
    last = (
        order.events.exclude(to_status__in=["", OrderStatus.DRAFT])
        .exclude(to_status=F("from_status"))
        .select_related("actor")
        .order_by("-created_at", "-pk")
        .first()
    )
    return last if last is not None and last.kind == "rejected" else None


def _cancel_choices(order: Order) -> list[DomainChoice]:
    choices: dict[str, DomainChoice] = {}
    for mailbox in (
        Mailbox.objects.filter(item__order=order)
        .exclude(status=MailboxStatus.CANCELLED)
        .select_related("item")
        .order_by("item__position", "position", "pk")
    ):
        domain = mailbox.item.domain
        choices.setdefault(domain, DomainChoice(domain)).mailboxes.append(mailbox)
    return list(choices.values())


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
    order = _order(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _decided(request, order, form, ok=False, message="Check the form.")
    try:
        workflow.order_approve(
            order=order,
            by=request.user,
            comment=form.cleaned_data["comment"],
            quote_id=form.cleaned_data["quote"],
        )
    except workflow.WorkflowError as exc:
        return _decided(request, order, form, ok=False, message=str(exc))
    return _decided(
        request,
        order,
        form,
        ok=True,
        message=f"{order} approved: it is being placed with Instantly.",
    )


@require_POST
@workspace_view(min_role=Role.LEAD)
def order_reject(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    order = _order(request, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _decided(
            request, order, form, ok=False, message="Say why the order is rejected."
        )
    try:
        workflow.order_reject(
            order=order, by=request.user, comment=form.cleaned_data["comment"]
        )
    except workflow.WorkflowError as exc:
        return _decided(request, order, form, ok=False, message=str(exc))
    return _decided(
        request,
        order,
        form,
        ok=True,
        message=f"{order} rejected; the requester is told.",
    )


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
    """Choose mailboxes (or whole domains) → preview the consequences → type the phrase →
    one cancel call → the result per mailbox."""
    order = _order(request, pk)
    form = CancelForm(request.POST or None, order=order)
    context: dict[str, Any] = {"cancel_form": form, "preview": None}
    if request.method == "POST" and form.is_valid():
        try:
            preview = cancellation.cancellation_preview(
                order=order, mailbox_ids=form.mailbox_ids, domains=form.domains
            )
            context["preview"] = preview
            if form.cleaned_data["step"] == "confirm":
                outcome = cancellation.order_cancel_mailboxes(
                    order=order,
                    by=request.user,
                    mailbox_ids=form.mailbox_ids,
                    domains=form.domains,
                    confirmation=form.cleaned_data["confirmation"],
                )
                return _cancelled(request, outcome)
        except cancellation.CancelError as exc:
            form.add_error(None, str(exc))
    if request.htmx:
        context.update(
            order=order,
            wf=order_panel(order=order, membership=request.membership),
        )
        return render(request, "orders/order_detail.html#cancel-panel", context)
    context.update(builder.detail_context(order))
    context["wf"] = order_panel(order=order, membership=request.membership)
    return render(request, "orders/order_detail.html", context)


def _cancelled(
    request: WorkspaceRequest, outcome: cancellation.CancelOutcome
) -> HttpResponse:
    """The whole page changes (status, mailboxes, timeline): back to it, where the result per
    mailbox is shown from the cancellation's event; htmx follows with a client redirect."""
    order = outcome.order
    messages.success(
        request, f"{outcome.cancelled} of {len(outcome.results)} mailboxes cancelled."
    )
    url = order.get_absolute_url()
    if not request.htmx:
        return HttpResponseRedirect(url)
    response = HttpResponseClientRedirect(url)
    return trigger_client_event(response, "orderCancelled", {"id": order.pk})
