"""The renewals page: the next 12 renewals as a chart and a table, its CSV for finance, and
cancellations scheduled before a renewal (schedule, approve, withdraw). Every member may look;
what each may change is decided by `orders.renewal_schedules` (docs/renewals.md)."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from orders import conf, renewal_charts, renewal_schedules, renewals
from orders.access import WorkspaceRequest, workspace_view
from orders.csv_cells import escape_cell
from orders.models import Order, Provider, ScheduledCancellation
from orders.renewal_forms import ScheduleForm

QUERY_LENGTH = 253


def _page_url(request: WorkspaceRequest, anchor: str = "") -> str:
    url = reverse("orders:renewals", args=[request.workspace.slug])
    return f"{url}#{anchor}" if anchor else url


@require_GET
@workspace_view()
def renewals_page(request: WorkspaceRequest, slug: str) -> HttpResponse:
    forecast = renewals.renewal_forecast(workspace=request.workspace)
    query = request.GET.get("q", "").strip()[:QUERY_LENGTH]
    open_schedules, done_schedules = renewals.schedules_page(request.workspace)
    context: dict[str, Any] = {
        "forecast": forecast,
        "chart": renewal_charts.renewal_chart(forecast.months),
        "providers": list(Provider),
        "query": query,
        "domains": renewals.renewable_domains(workspace=request.workspace, query=query),
        "picker_limit": renewals.PICKER_LIMIT,
        "open_schedules": open_schedules,
        "done_schedules": done_schedules,
        "approval_over": conf.scheduled_cancel_approval_over(),
        "next_renewal": forecast.next.renews_on,
        "run_on": renewals.run_day(forecast.next.renews_on),
    }
    return render(request, "orders/renewals.html", context)


@require_GET
@workspace_view()
def renewals_export(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """The 12 renewals as CSV: counts and Decimal amounts, one line per renewal."""
    forecast = renewals.renewal_forecast(workspace=request.workspace)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="renewals-{request.workspace.slug}-{stamp}.csv"'
    )
    writer = csv.writer(response)
    header = ["renews_on"]
    for provider in Provider:
        name = provider.label.lower()
        header += [f"{name}_mailboxes", f"{name}_usd"]
        if provider == Provider.MICROSOFT:
            header.insert(-1, "microsoft_domains_monthly")
    header += [
        "domains_yearly",
        "domains_usd",
        "scheduled_cancelled_mailboxes",
        "scheduled_saving_usd",
        "total_usd",
    ]
    writer.writerow(header)
    for month in forecast.months:
        row = [month.renews_on.isoformat()]
        for p in month.providers:
            row += [str(p.mailboxes), str(p.cost)]
            if p.provider == Provider.MICROSOFT:
                row.insert(-1, str(p.monthly_domains))
        row += [
            str(month.domains),
            str(month.domains_cost),
            str(month.scheduled_mailboxes),
            str(month.scheduled_saving),
            str(month.total),
        ]
        writer.writerow([escape_cell(cell) for cell in row])
    return response


def _done(request: WorkspaceRequest, url: str) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


@require_POST
@workspace_view()
def renewal_schedule(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """Schedule the chosen domains (renewals page) or an order's chosen mailboxes and domains
    (order page) to be cancelled the day before the next renewal. Problems come back as a
    message on the page the person came from."""
    form = ScheduleForm(request.POST)
    back = _page_url(request, "choose")
    if not form.is_valid():
        messages.error(request, form.first_error())
        return _done(request, back)
    data = form.cleaned_data
    try:
        if data["order"]:
            order = get_object_or_404(
                Order.objects.in_workspace(request.workspace).select_related(
                    "workspace"
                ),
                pk=data["order"],
            )
            back = order.get_absolute_url()
            made = [
                renewal_schedules.renewal_cancel_schedule(
                    order=order,
                    by=request.user,
                    mailbox_ids=data["mailbox"],
                    domains=data["domain"],
                )
            ]
        else:
            made = renewal_schedules.renewal_cancel_schedule_domains(
                workspace=request.workspace, by=request.user, item_ids=data["item"]
            )
    except renewal_schedules.RenewalScheduleError as exc:
        messages.error(request, str(exc))
        return _done(request, back)
    count = sum(s.count for s in made)
    waiting = sum(1 for s in made if s.status == "awaiting_approval")
    first = made[0]
    messages.success(
        request,
        f"Scheduled: {count} mailbox{'es' if count != 1 else ''} will be cancelled on "
        f"{renewal_schedules.day_words(first.run_on)}, before the "
        f"{renewal_schedules.day_words(first.renewal_on)} renewal"
        + (", once a lead approves" if waiting else "")
        + ". You can withdraw it until then.",
    )
    return _done(request, _page_url(request, f"schedule-{first.pk}"))


def _schedule(request: WorkspaceRequest, pk: int) -> ScheduledCancellation:
    return get_object_or_404(
        ScheduledCancellation.objects.in_workspace(request.workspace).select_related(
            "order__workspace", "workspace"
        ),
        pk=pk,
    )


@require_POST
@workspace_view()
def renewal_approve(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    schedule = _schedule(request, pk)
    try:
        renewal_schedules.renewal_cancel_approve(schedule=schedule, by=request.user)
    except renewal_schedules.RenewalScheduleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Approved: it runs on its day.")
    return _done(request, _page_url(request, f"schedule-{pk}"))


@require_POST
@workspace_view()
def renewal_unschedule(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    schedule = _schedule(request, pk)
    try:
        renewal_schedules.renewal_cancel_unschedule(schedule=schedule, by=request.user)
    except renewal_schedules.RenewalScheduleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Withdrawn: nothing will be cancelled.")
    return _done(request, _page_url(request, f"schedule-{pk}"))
