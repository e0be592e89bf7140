"""Thin function views: scope, bind, call one service, render (docs/architecture.md)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template import loader
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from orders import (
    burn_rates,
    dashboard_charts,
    enqueue,
    history_views,
    instantly_keys,
    renewals,
    spend,
    webhooks,
)
from orders.access import SESSION_WORKSPACE, WorkspaceRequest, workspace_view
from orders.forms import InstantlyKeyForm, WorkspaceSettingsForm
from orders.models import (
    InstantlyKey,
    Membership,
    NotificationDelivery,
    Order,
    PendingInstantlyKey,
    Role,
    Workspace,
)
from orders.workspace_settings import workspace_settings_save

# The settings page lists this many of the newest notification deliveries.
DELIVERIES_SHOWN = 50


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(Membership.objects.for_user(request.user))
    last = request.session.get(SESSION_WORKSPACE)
    chosen = next((m for m in memberships if m.workspace.slug == last), None)
    if chosen is None and len(memberships) == 1:
        chosen = memberships[0]
    if chosen is not None:
        return redirect("orders:dashboard", slug=chosen.workspace.slug)
    return render(request, "orders/workspace_pick.html", {"memberships": memberships})


@require_GET
@workspace_view()
def dashboard(request: WorkspaceRequest, slug: str) -> HttpResponse:
    figures = spend.workspace_dashboard(workspace=request.workspace)
    context = {
        "figures": figures,
        "spend_chart": dashboard_charts.spend_chart(figures.months),
        "speed_sample": spend.SPEED_SAMPLE,
        "mailbox_chart": dashboard_charts.mailbox_chart(figures.mailboxes),
        # Next month's renewal and the scheduled savings (issue 15, docs/renewals.md).
        "renewal": renewals.dashboard_forecast(
            workspace=request.workspace,
            bought=(figures.active_orders, figures.active_monthly),
            mailboxes=[
                (m.provider, m.ready, m.provisioning) for m in figures.mailboxes
            ],
        ),
        # Issue 16: burned domains out of delivered ones, per provider and order type; the
        # delivered count is kept under the stamp of the tallies read above.
        "replacement_rates": burn_rates.replacement_rates(
            workspace=request.workspace,
            stamp=(
                figures.active_orders,
                figures.active_monthly,
                [(m.provider, m.ready, m.provisioning) for m in figures.mailboxes],
            ),
        ),
        "recent_orders": Order.objects.in_workspace(request.workspace).select_related(
            "requester", "workspace"
        )[:10],
        "key": InstantlyKey.objects.filter(workspace=request.workspace).first(),
    }
    return render(request, "orders/dashboard.html", context)


@require_http_methods(["GET", "POST"])
@workspace_view(min_role=Role.ADMIN)
def workspace_settings(request: WorkspaceRequest, slug: str) -> HttpResponse:
    key = InstantlyKey.objects.filter(workspace=request.workspace).first()
    key_form = InstantlyKeyForm(prefix="key", initial={"mode": key_mode(key)})
    settings_form = WorkspaceSettingsForm(instance=request.workspace, prefix="ws")
    new_secret = ""
    if request.method == "POST" and "save_key" in request.POST:
        key_form = InstantlyKeyForm(request.POST, prefix="key")
        if key_form.is_valid():
            # The pasted key is only proposed: the active key keeps serving until the worker
            # hears Instantly accept the new one (docs/security.md).
            pending = instantly_keys.instantly_key_propose(
                workspace=request.workspace,
                by=request.user,
                secret=key_form.cleaned_data["secret"],
                label=key_form.cleaned_data["label"],
                base_url=instantly_keys.instantly_base_url(
                    mode=key_form.cleaned_data["mode"]
                ),
            )
            enqueue.verify_pending_key(pending_id=pending.pk)
            if not request.htmx:
                return redirect("orders:settings", slug=slug)
            # htmx swaps the key section of this page in place; its panel polls the result.
            key_form = InstantlyKeyForm(prefix="key", initial={"mode": key_mode(key)})
    elif request.method == "POST" and "verify_key" in request.POST:
        if key is not None:
            enqueue.verify_key(workspace_id=request.workspace.pk)
            messages.info(
                request,
                "Verification started; reload in a few seconds to see the result.",
            )
        return redirect("orders:settings", slug=slug)
    elif request.method == "POST" and "rotate_webhook_secret" in request.POST:
        new_secret = webhooks.webhook_secret_rotate(workspace=request.workspace)
    elif request.method == "POST":
        settings_form = WorkspaceSettingsForm(
            request.POST, instance=request.workspace, prefix="ws"
        )
        if settings_form.is_valid():
            workspace, new_secret = workspace_settings_save(form=settings_form)
            messages.success(request, "Approval settings saved.")
            if not new_secret:
                return redirect("orders:settings", slug=slug)
            # A first webhook URL got its signing secret, shown on this page only.
            settings_form = WorkspaceSettingsForm(instance=workspace, prefix="ws")
    context = {
        **key_state(request.workspace),
        "key_form": key_form,
        "settings_form": settings_form,
        "new_webhook_secret": new_secret,
        "deliveries": NotificationDelivery.objects.filter(
            workspace=request.workspace
        ).select_related("order")[:DELIVERIES_SHOWN],
    }
    response = render(request, "orders/workspace_settings.html", context)
    if new_secret:
        # The clear secret is in this page once: keep it out of every cache.
        add_never_cache_headers(response)
    return response


def key_mode(key: InstantlyKey | None) -> str:
    """The key form's default mode: the one of the key in use (sandbox without a key)."""
    return "live" if key is not None and not key.is_sandbox else "sandbox"


# A verification still running after this long is probably waiting for a busy worker.
KEY_CHECK_SLOW = timedelta(minutes=2)


def key_state(workspace: Workspace) -> dict[str, object]:
    """The active key and the latest pasted key's verification, for the settings page."""
    pending = PendingInstantlyKey.objects.filter(workspace=workspace).first()
    return {
        "key": InstantlyKey.objects.filter(workspace=workspace).first(),
        "pending": pending,
        "pending_slow": pending is not None
        and pending.is_verifying
        and timezone.now() - pending.created_at > KEY_CHECK_SLOW,
    }


@require_GET
@workspace_view(min_role=Role.ADMIN)
def key_check(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """The key state panel, polled by htmx while a pasted key is verified; 286 stops the
    polling once the verification has ended (the final state is still swapped in)."""
    context = key_state(request.workspace)
    response = render(request, "orders/workspace_settings.html#key-state", context)
    pending = context["pending"]
    if not (isinstance(pending, PendingInstantlyKey) and pending.is_verifying):
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_GET
@workspace_view()
def order_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """The workspace's order history: filters in the URL, sorting, paging, CSV export."""
    return history_views.history_page(request)


@login_not_required
def permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)


@login_not_required
def page_not_found(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    return render(request, "404.html", status=404)


@login_not_required
def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request's context processors: the failure may be in them.
    return HttpResponseServerError(loader.get_template("500.html").render())
