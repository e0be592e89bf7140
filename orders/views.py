"""Thin function views (STYLE G4): scope, bind, call one service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.http import require_GET, require_http_methods

from orders import history_views, services, spend
from orders.access import SESSION_WORKSPACE, WorkspaceRequest, workspace_view
from orders.forms import InstantlyKeyForm, WorkspaceSettingsForm
from orders.models import InstantlyKey, Membership, Order, Role
from orders.tasks import verify_key_task


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
        "spend_chart": spend.spend_chart(figures.months),
        "mailbox_chart": spend.mailbox_chart(figures.mailboxes),
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
    key_form = InstantlyKeyForm(prefix="key")
    settings_form = WorkspaceSettingsForm(instance=request.workspace, prefix="ws")
    if request.method == "POST" and "save_key" in request.POST:
        key_form = InstantlyKeyForm(request.POST, prefix="key")
        if key_form.is_valid():
            services.instantly_key_save(
                workspace=request.workspace,
                by=request.user,
                secret=key_form.cleaned_data["secret"],
                label=key_form.cleaned_data["label"],
                base_url=services.instantly_base_url(
                    mode=key_form.cleaned_data["mode"]
                ),
            )
            verify_key_task.delay_on_commit(workspace_id=request.workspace.pk)
            messages.success(
                request,
                "API key saved and being verified. Only its last 4 characters are shown from now on.",
            )
            return redirect("orders:settings", slug=slug)
    elif request.method == "POST" and "verify_key" in request.POST:
        if key is not None:
            verify_key_task.delay_on_commit(workspace_id=request.workspace.pk)
            messages.info(
                request,
                "Verification started; reload in a few seconds to see the result.",
            )
        return redirect("orders:settings", slug=slug)
    elif request.method == "POST":
        settings_form = WorkspaceSettingsForm(
            request.POST, instance=request.workspace, prefix="ws"
        )
        if settings_form.is_valid():
            settings_form.save()
            messages.success(request, "Approval settings saved.")
            return redirect("orders:settings", slug=slug)
    context = {"key": key, "key_form": key_form, "settings_form": settings_form}
    return render(request, "orders/workspace_settings.html", context)


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
