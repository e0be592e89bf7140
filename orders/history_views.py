"""The order history page and its CSV export (views parse, call, render: docs/architecture.md).

Filters live in the URL: a GET form, `{% querystring %}` links, and htmx swapping only the
results (`hx-push-url`), so plain GET, sharing a link and the back button all work.
"""

from __future__ import annotations

from typing import cast

from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from orders.access import WorkspaceRequest, workspace_view
from orders.history import (
    DEFAULT_PER_PAGE,
    SORTS,
    HistoryFilterForm,
    HistoryFilters,
    IdsFirstPaginator,
    history_orders,
    workspace_people,
)
from orders.history_export import orders_csv_chunks
from orders.history_table import history_rows


def _canonical_query(query: QueryDict) -> QueryDict:
    """The request's parameters without the empty ones a GET form sends for "any"."""
    clean = QueryDict(mutable=True)
    for key, values in query.lists():
        kept = [v for v in values if v.strip()]
        if kept:
            clean.setlist(key, kept)
    return clean


def _sort_columns(sort: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the sort a click on its header asks for, and its current arrow."""
    current = sort.removeprefix("-")
    descending = sort.startswith("-")
    columns = {}
    for key in SORTS:
        if key == current:
            columns[key] = {
                "next": key if descending else f"-{key}",
                "arrow": "▼" if descending else "▲",
                "aria": "descending" if descending else "ascending",
            }
        else:
            # Money and dates read best newest/largest first; words alphabetically.
            first = f"-{key}" if key in {"created", "due_now", "monthly", "id"} else key
            columns[key] = {"next": first, "arrow": "", "aria": "none"}
    return columns


def history_page(request: WorkspaceRequest) -> HttpResponse:
    """The history page (served as `orders:list`); htmx requests get only the results."""
    query = _canonical_query(request.GET)
    data = query.copy()
    # So the page-size select shows the size in use when the URL does not name one.
    data.setdefault("per_page", str(DEFAULT_PER_PAGE))
    form = HistoryFilterForm(data, people=workspace_people(request.workspace))
    filters = HistoryFilters.from_form(form)
    paginator = IdsFirstPaginator(
        history_orders(request.workspace, filters), filters.per_page
    )
    page = paginator.get_page(query.get("page"))
    context = {
        "form": form,
        "problems": form.problems(),
        "filters": filters,
        "query": query,
        "page": page,
        "rows": history_rows(
            list(page.object_list), workspace_slug=request.workspace.slug
        ),
        "columns": _sort_columns(filters.sort),
        "is_filtered": any(k not in {"sort", "per_page", "page"} for k in query),
    }
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "orders/history.html#history-results", context)
        # The form sends every field, empty ones too; the address bar shows only what filters.
        return push_url(
            response, f"{request.path}?{query.urlencode()}" if query else request.path
        )
    return render(request, "orders/history.html", context)


@require_GET
@workspace_view()
def order_history_export(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """The filtered history as CSV, streamed: the rows are read in chunks while sending."""
    query = _canonical_query(request.GET)
    form = HistoryFilterForm(query, people=workspace_people(request.workspace))
    if not form.is_valid():
        # Exporting a wider set than the user asked for would be worse than no file.
        message = "Nothing exported; fix these filters first:\n" + "\n".join(
            form.problems()
        )
        return HttpResponse(
            message, status=400, content_type="text/plain; charset=utf-8"
        )
    filters = HistoryFilters.from_form(form)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        orders_csv_chunks(history_orders(request.workspace, filters)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="orders-{request.workspace.slug}-{stamp}.csv"'
    )
    # `workspace_view` is typed for HttpResponse; Django serves any HttpResponseBase.
    return cast("HttpResponse", response)
