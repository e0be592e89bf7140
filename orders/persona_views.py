"""The Personas page: the workspace's persona library, its add, change and remove forms, and
its CSV import and export.

Every member may use it, operators included: operators are the ones who build drafts and
name mailboxes, the library spends nothing, changing it changes no order, and whatever the
library puts into a draft is seen again by a lead at approval. Another workspace's personas
answer 404. A form with a problem comes back with what was typed and why (status 200).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orders import personas
from orders.access import WorkspaceRequest, workspace_view
from orders.models import Persona
from orders.persona_csv import COLUMNS, MAX_ROWS
from orders.persona_forms import PersonaForm, PersonaImportForm

TEMPLATE = "orders/personas.html"
PER_PAGE = 100


def _persona(request: WorkspaceRequest, pk: int) -> Persona:
    return get_object_or_404(Persona.objects.in_workspace(request.workspace), pk=pk)


def _page(
    request: WorkspaceRequest,
    *,
    add_form: PersonaForm | None = None,
    import_form: PersonaImportForm | None = None,
    import_problems: list[str] | None = None,
) -> HttpResponse:
    library = Persona.objects.in_workspace(request.workspace)
    page = Paginator(library, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "add_form": add_form or PersonaForm(),
        "import_form": import_form or PersonaImportForm(),
        "import_problems": import_problems or [],
        "columns": COLUMNS,
        "max_rows": MAX_ROWS,
    }
    return render(request, TEMPLATE, context)


def _refused(form: PersonaForm, exc: personas.PersonaError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, str(exc))


@require_http_methods(["GET", "POST"])
@workspace_view()
def personas_page(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """GET: the library. POST: add one persona."""
    if request.method == "GET":
        return _page(request)
    form = PersonaForm(request.POST)
    if form.is_valid():
        try:
            persona = personas.persona_create(
                workspace=request.workspace, by=request.user, **form.cleaned_data
            )
        except personas.PersonaError as exc:
            _refused(form, exc)
        else:
            messages.success(request, f"Added {persona} to the library.")
            return redirect("orders:personas", slug=slug)
    return _page(request, add_form=form)


@require_http_methods(["GET", "POST"])
@workspace_view()
def persona_edit(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    persona = _persona(request, pk)
    if request.method == "GET":
        form = PersonaForm(
            initial={
                "first_name": persona.first_name,
                "last_name": persona.last_name,
                "title": persona.title,
                "signature": persona.signature,
            }
        )
        return render(
            request, "orders/persona_edit.html", {"persona": persona, "form": form}
        )
    form = PersonaForm(request.POST)
    if form.is_valid():
        try:
            personas.persona_change(
                persona=persona, by=request.user, **form.cleaned_data
            )
        except personas.PersonaError as exc:
            _refused(form, exc)
        else:
            messages.success(
                request,
                f"Saved {persona}. Mailboxes already made from this persona keep "
                "their names.",
            )
            return redirect("orders:personas", slug=slug)
    persona.refresh_from_db()
    return render(
        request, "orders/persona_edit.html", {"persona": persona, "form": form}
    )


@require_http_methods(["GET", "POST"])
@workspace_view()
def persona_delete(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    """GET: the confirmation step. POST: remove."""
    persona = _persona(request, pk)
    if request.method == "GET":
        return render(request, "orders/persona_delete.html", {"persona": persona})
    name = str(persona)
    personas.persona_delete(persona=persona, by=request.user)
    messages.success(
        request,
        f"Removed {name} from the library. Mailboxes already made for them keep their "
        "names.",
    )
    return redirect("orders:personas", slug=slug)


@require_POST
@workspace_view()
def personas_import(request: WorkspaceRequest, slug: str) -> HttpResponse:
    form = PersonaImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, import_form=form)
    upload = form.cleaned_data["file"]
    result = personas.personas_import(
        workspace=request.workspace, by=request.user, data=upload.read()
    )
    if not result.ok:
        problems = [problem.message for problem in result.problems]
        if result.note:
            problems.append(result.note)
        return _page(request, import_form=form, import_problems=problems)
    messages.success(
        request,
        f"Imported {result.added} persona{'' if result.added == 1 else 's'} from "
        f"{upload.name}.",
    )
    if result.note:
        messages.warning(request, result.note)
    return redirect("orders:personas", slug=slug)


@require_GET
@workspace_view()
def personas_export(request: WorkspaceRequest, slug: str) -> HttpResponse:
    response = HttpResponse(
        personas.personas_export(workspace=request.workspace),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="personas-{request.workspace.slug}.csv"'
    )
    return response
