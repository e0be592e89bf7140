"""The order list's actions. The two that involve Instantly only queue the portal's own
tasks and say so: the request never waits on Instantly (docs/tasks.md). What the worker then
does shows on each order's page, in its event timeline."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from orders import enqueue
from orders.history_export import orders_csv_chunks
from orders.models import InstantlyKey, Order, OrderStatus, Workspace


def _orders(count: int) -> str:
    return f"{count} order{'' if count == 1 else 's'}"


@admin.action(
    description="Re-sync from Instantly (poll their workspaces)",
    permissions=["operate"],
)
def resync_from_instantly(
    modeladmin: admin.ModelAdmin[Order], request: HttpRequest, queryset: QuerySet[Order]
) -> None:
    """Queue the portal's fulfilment poll once per workspace of the selected orders. A
    workspace without an Instantly key is named and left out."""
    selected = {
        row["workspace_id"]: row["n"]
        for row in queryset.order_by().values("workspace_id").annotate(n=Count("pk"))
    }
    keyed = set(
        InstantlyKey.objects.filter(workspace_id__in=selected).values_list(
            "workspace_id", flat=True
        )
    )
    for workspace in Workspace.objects.filter(pk__in=selected).order_by("name"):
        if workspace.pk not in keyed:
            modeladmin.message_user(
                request,
                f"{workspace}: not queued: workspace {workspace.slug} has no Instantly "
                "API key.",
                messages.ERROR,
            )
            continue
        enqueue.poll_workspace(workspace_id=workspace.pk)
        modeladmin.message_user(
            request,
            f"{workspace}: re-sync queued for {_orders(selected[workspace.pk])}; "
            "their pages show what moved once the worker has polled Instantly.",
            messages.SUCCESS,
        )


@admin.action(
    description="Reconcile unknown outcomes with Instantly",
    permissions=["operate"],
)
def reconcile(
    modeladmin: admin.ModelAdmin[Order], request: HttpRequest, queryset: QuerySet[Order]
) -> None:
    """Queue one reconciliation check for each selected order whose outcome is unknown; the
    check reads Instantly's lists, never places anything, and is recorded in the order's
    event timeline when it has run."""
    unknown = list(
        queryset.filter(status=OrderStatus.UNKNOWN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    skipped = queryset.exclude(status=OrderStatus.UNKNOWN).count()
    if skipped:
        modeladmin.message_user(
            request,
            f"{skipped} order(s) skipped: only an unknown outcome can be reconciled.",
            messages.WARNING,
        )
    for order_id in unknown:
        enqueue.reconcile_order_now(order_id=order_id)
    if unknown:
        numbers = ", ".join(f"#{pk}" for pk in unknown)
        modeladmin.message_user(
            request,
            f"{_orders(len(unknown))} queued for reconciliation ({numbers}); each check "
            "shows in the order's event timeline once it has run.",
            messages.SUCCESS,
        )


@admin.action(description="Export selected orders as CSV", permissions=["view"])
def export_csv(
    modeladmin: admin.ModelAdmin[Order], request: HttpRequest, queryset: QuerySet[Order]
) -> HttpResponse:
    """The portal's export (same columns), streamed."""
    selected = Order.objects.filter(pk__in=queryset.values("pk")).order_by(
        "-created_at", "-pk"
    )
    response = StreamingHttpResponse(
        orders_csv_chunks(selected), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="orders-admin-{stamp}.csv"'
    # Admin actions are typed as returning HttpResponse; Django serves any response.
    return response  # type: ignore[return-value]
