"""The members page for workspace admins: list, add or invite, change role and approval limit,
remove (after a confirmation step).

Everything here needs the admin role (403 below it, 404 for another workspace's members).
htmx requests get the changed row or panel back; plain requests post/redirect/get with a
message, or re-render the page with the errors and what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from orders import members
from orders.access import WorkspaceRequest, workspace_view
from orders.member_forms import MemberAddForm, MemberChangeForm
from orders.models import Membership, Role

TEMPLATE = "orders/members.html"


@dataclass
class MemberRow:
    membership: Membership
    form: MemberChangeForm
    notice: str = ""
    ok: bool = True

    @property
    def is_invited(self) -> bool:
        user = self.membership.user
        return user.last_login is None and not user.has_usable_password()


def _change_form(
    membership: Membership, data: QueryDict | None = None
) -> MemberChangeForm:
    form = MemberChangeForm(
        data,
        prefix=f"m{membership.pk}",
        current_limit=membership.approval_limit,
        initial={"role": membership.role, "approval_limit": membership.approval_limit},
    )
    # The row's inputs sit in table cells; the `form` attribute ties them to the row's form.
    for field in form.fields.values():
        field.widget.attrs["form"] = f"member-{membership.pk}-form"
    form.fields["approval_limit"].widget.attrs["placeholder"] = (
        "No limit" if membership.is_lead else "Leads only"
    )
    return form


def _rows(
    request: WorkspaceRequest, replace: MemberRow | None = None
) -> list[MemberRow]:
    memberships = (
        Membership.objects.filter(workspace=request.workspace)
        .select_related("user", "workspace")
        .order_by("user__username")
    )
    return [
        replace
        if replace is not None and replace.membership.pk == m.pk
        else MemberRow(membership=m, form=_change_form(m))
        for m in memberships
    ]


def _page(
    request: WorkspaceRequest,
    *,
    add_form: MemberAddForm | None = None,
    row: MemberRow | None = None,
    notice: str = "",
    ok: bool = True,
) -> HttpResponse:
    context = {
        "rows": _rows(request, row),
        "add_form": add_form or MemberAddForm(),
        "notice": notice,
        "ok": ok,
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, f"{TEMPLATE}#members-panel", context)
    return render(request, TEMPLATE, context)


def _membership(request: WorkspaceRequest, pk: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "workspace"),
        workspace=request.workspace,
        pk=pk,
    )


def _form_error(
    form: MemberAddForm | MemberChangeForm, exc: members.MemberError
) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, str(exc))


@require_http_methods(["GET", "POST"])
@workspace_view(min_role=Role.ADMIN)
def members_page(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """GET: the page. POST: the add-or-invite form."""
    if request.method == "GET":
        return _page(request)
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        return _page(
            request,
            add_form=form,
            notice="Nobody was added: see the form below.",
            ok=False,
        )
    data = form.cleaned_data
    try:
        if data["action"] == MemberAddForm.INVITE:
            result = members.member_invite(
                workspace=request.workspace,
                by=request.user,
                email=data["username_or_email"],
                role=data["role"],
                approval_limit=data["approval_limit"],
            )
            membership = result.membership
            message = (
                f"Invited {membership.user.email}: an email with a link to choose a "
                "password is on its way."
                if result.email_sent
                else f"{membership.user.email} already has an account: added without an "
                "email."
            )
        else:
            membership = members.member_add(
                workspace=request.workspace,
                by=request.user,
                username_or_email=data["username_or_email"],
                role=data["role"],
                approval_limit=data["approval_limit"],
            )
            message = f"Added {membership.user.get_username()} as {membership.get_role_display()}."
    except members.MemberError as exc:
        _form_error(form, exc)
        return _page(
            request,
            add_form=form,
            notice="Nobody was added: see the form below.",
            ok=False,
        )
    if request.htmx:
        response = _page(request, notice=message)
        trigger_client_event(response, "memberAdded", {"id": membership.pk})
        return response
    messages.success(request, message)
    return redirect("orders:members", slug=slug)


@require_POST
@workspace_view(min_role=Role.ADMIN)
def member_change(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    membership = _membership(request, pk)
    form = _change_form(membership, request.POST)
    if form.is_valid():
        try:
            members.member_change(
                membership=membership,
                by=request.user,
                role=form.cleaned_data["role"],
                approval_limit=form.cleaned_data["approval_limit"],
            )
        except members.MemberError as exc:
            _form_error(form, exc)
    if not form.is_valid():
        row = MemberRow(membership, form, notice="Not saved: see below.", ok=False)
        if request.htmx:
            return render(request, f"{TEMPLATE}#member-row", {"row": row})
        return _page(request, row=row)
    message = (
        f"Saved: {membership.user.get_username()} is {membership.get_role_display()}"
    )
    if membership.is_lead:
        limit = membership.approval_limit
        message += (
            " and may approve any amount."
            if limit is None
            else f" and may approve up to ${limit:,.2f}."
        )
    else:
        message += "."
    if membership.user_id == request.user.pk and not membership.is_admin:
        # They just gave up the admin role: this page is no longer theirs.
        messages.success(request, message)
        return _leave(request, "orders:dashboard")
    if request.htmx:
        row = MemberRow(membership, _change_form(membership), notice=message)
        response = render(request, f"{TEMPLATE}#member-row", {"row": row})
        trigger_client_event(response, "memberChanged", {"id": membership.pk})
        return response
    messages.success(request, message)
    return redirect("orders:members", slug=slug)


@require_http_methods(["GET", "POST"])
@workspace_view(min_role=Role.ADMIN)
def member_remove(request: WorkspaceRequest, slug: str, pk: int) -> HttpResponse:
    """GET: the confirmation step (the no-JS path; htmx asks with hx-confirm). POST: remove."""
    membership = _membership(request, pk)
    if request.method == "GET":
        return render(request, "orders/member_remove.html", {"membership": membership})
    name = membership.user.get_username()
    try:
        members.member_remove(membership=membership, by=request.user)
    except members.MemberError as exc:
        if request.htmx:
            row = MemberRow(
                membership, _change_form(membership), notice=str(exc), ok=False
            )
            return render(request, f"{TEMPLATE}#member-row", {"row": row})
        messages.error(request, str(exc))
        return redirect("orders:members", slug=slug)
    message = f"Removed {name} from {request.workspace}."
    if membership.user_id == request.user.pk:
        messages.success(request, message)
        return _leave(request, "home")
    if request.htmx:
        # The row swaps to nothing; the message goes to the page's notice area.
        response = render(
            request,
            f"{TEMPLATE}#members-notice",
            {"notice": message, "ok": True, "oob": True},
        )
        trigger_client_event(response, "memberRemoved", {"id": pk})
        return response
    messages.success(request, message)
    return redirect("orders:members", slug=slug)


def _leave(request: WorkspaceRequest, name: str) -> HttpResponse:
    url = (
        reverse(name, kwargs={"slug": request.workspace.slug})
        if name != "home"
        else reverse("home")
    )
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
