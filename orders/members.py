"""Who belongs to a workspace: add an existing account, invite a new one by email, change a
member's role or approval limit, remove a member.

Every function locks all of the workspace's membership rows first (in primary-key order, so
two admins acting at once queue instead of deadlocking), then checks the rules on what it
read under the lock. That is what keeps two admins from demoting each other at the same
moment and leaving the workspace with nobody who can manage it.

Invitations reuse Django's password-reset machinery: the new account has no usable password
and the email carries a one-time link to `password_reset_confirm`, valid for
PASSWORD_RESET_TIMEOUT. The link is never logged or stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from orders.models import Membership, Role, Workspace

logger = logging.getLogger(__name__)

# Membership.approval_limit is DecimalField(max_digits=12, decimal_places=2).
LIMIT_CENT = Decimal("0.01")
LIMIT_CEILING = Decimal("10000000000")
USERNAME_MAX = 150


class MemberError(Exception):
    """A refused membership change, worded for the admin. `field` names the form field at
    fault (None: the request as a whole)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class InviteResult:
    membership: Membership
    # False when the address already belonged to an account that has logged in: it is
    # simply added, and no email goes out.
    email_sent: bool


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise MemberError(f"“{role}” is not a role.", field="role") from None


def _checked_limit(role: Role, limit: Decimal | None) -> Decimal | None:
    if limit is None:
        return None
    if not limit.is_finite() or limit < 0:
        raise MemberError(
            "The approval limit cannot be negative: enter 0 or more, or leave it empty "
            "for no limit.",
            field="approval_limit",
        )
    if limit != limit.quantize(LIMIT_CENT) or limit >= LIMIT_CEILING:
        raise MemberError(
            "The approval limit takes whole cents and at most 10 digits before the point.",
            field="approval_limit",
        )
    if role == Role.OPERATOR:
        raise MemberError(
            "Operators do not approve orders, so they have no approval limit: clear the "
            "limit, or choose Lead.",
            field="approval_limit",
        )
    # As the column stores it, so the row shown after a save reads 250.00, not 250.
    return limit.quantize(LIMIT_CENT)


def _lock_members(workspace: Workspace) -> list[Membership]:
    """Every membership row of the workspace, locked until the caller's transaction ends."""
    return list(
        Membership.objects.select_for_update()
        .filter(workspace=workspace)
        .order_by("pk")
    )


def _admins(members: list[Membership]) -> list[Membership]:
    return [m for m in members if m.role == Role.ADMIN]


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _create_membership(
    *,
    workspace: Workspace,
    user: User,
    role: Role,
    limit: Decimal | None,
    members: list[Membership],
) -> Membership:
    existing = next((m for m in members if m.user_id == user.pk), None)
    if existing is not None:
        raise MemberError(
            f"{_name(user)} is already a member of {workspace} "
            f"({existing.get_role_display()}).",
            field="username_or_email",
        )
    try:
        # A savepoint: an add racing this one (same user) must not poison the transaction.
        with transaction.atomic():
            return Membership.objects.create(
                workspace=workspace, user=user, role=role, approval_limit=limit
            )
    except IntegrityError:
        raise MemberError(
            f"{_name(user)} is already a member of {workspace}.",
            field="username_or_email",
        ) from None


def _find_account(username_or_email: str) -> User | None:
    by_username = User.objects.filter(username=username_or_email).first()
    if by_username is not None:
        return by_username
    by_email = list(User.objects.filter(email__iexact=username_or_email)[:2])
    if len(by_email) > 1:
        raise MemberError(
            "Several accounts use this email address: enter the username instead.",
            field="username_or_email",
        )
    return by_email[0] if by_email else None


@transaction.atomic
def member_add(
    *,
    workspace: Workspace,
    by: User,
    username_or_email: str,
    role: Role | str,
    approval_limit: Decimal | None,
) -> Membership:
    """Add an existing account (found by username, else by email) to the workspace."""
    checked_role = _role(role)
    limit = _checked_limit(checked_role, approval_limit)
    wanted = username_or_email.strip()
    if not wanted:
        raise MemberError(
            "Enter the username or email of the person to add.",
            field="username_or_email",
        )
    members = _lock_members(workspace)
    user = _find_account(wanted)
    if user is None or not user.is_active:
        raise MemberError(
            f"No active account has the username or email “{wanted}”. To bring in someone "
            "new, use Invite by email.",
            field="username_or_email",
        )
    membership = _create_membership(
        workspace=workspace, user=user, role=checked_role, limit=limit, members=members
    )
    logger.info(
        "Membership: user %s added user %s to %s as %s (limit %s)",
        by.pk,
        user.pk,
        workspace.slug,
        checked_role.value,
        limit,
    )
    return membership


def _is_pending_invite(user: User) -> bool:
    return user.last_login is None and not user.has_usable_password()


@transaction.atomic
def member_invite(
    *,
    workspace: Workspace,
    by: User,
    email: str,
    role: Role | str,
    approval_limit: Decimal | None,
) -> InviteResult:
    """Add someone by email address, creating their account when there is none.

    A new account gets no usable password and an email with a link to choose one (sent once
    this transaction commits, so a rolled-back invite mails nobody). An address whose
    account was invited before but never used gets the link again; an account in use is just
    added."""
    checked_role = _role(role)
    limit = _checked_limit(checked_role, approval_limit)
    address = User.objects.normalize_email(email.strip())
    try:
        validate_email(address)
    except ValidationError:
        raise MemberError(
            f"“{email.strip()}” is not a valid email address.",
            field="username_or_email",
        ) from None
    if len(address) > USERNAME_MAX:
        raise MemberError(
            f"An email address used as a username has at most {USERNAME_MAX} characters.",
            field="username_or_email",
        )
    members = _lock_members(workspace)
    user = _find_account(address)
    if user is not None and not user.is_active:
        raise MemberError(
            f"The account for “{address}” is deactivated; a staff user can reactivate it.",
            field="username_or_email",
        )
    if user is None:
        user = User.objects.create_user(username=address, email=address, password=None)
        logger.info("Membership: user %s created account %s by invite", by.pk, user.pk)
    membership = _create_membership(
        workspace=workspace, user=user, role=checked_role, limit=limit, members=members
    )
    send = _is_pending_invite(user)
    if send:
        transaction.on_commit(
            partial(
                _send_invite,
                user_pk=user.pk,
                workspace_name=workspace.name,
                inviter=_name(by),
                role_label=checked_role.label,
            )
        )
    logger.info(
        "Membership: user %s invited user %s to %s as %s (limit %s, email %s)",
        by.pk,
        user.pk,
        workspace.slug,
        checked_role.value,
        limit,
        "queued" if send else "not needed",
    )
    return InviteResult(membership=membership, email_sent=send)


def _send_invite(
    *, user_pk: int, workspace_name: str, inviter: str, role_label: str
) -> None:
    """Runs after commit: the token is made from the committed account, and SMTP never runs
    inside a transaction. A failed send is logged (without the link) rather than turning
    the admin's saved change into an error page; removing and inviting again resends."""
    user = User.objects.get(pk=user_pk)
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "user": user,
        "workspace_name": workspace_name,
        "inviter": inviter,
        "role_label": role_label,
        "link": f"{settings.DFY_SITE_URL.rstrip('/')}{path}",
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    subject = " ".join(
        render_to_string("registration/invite_subject.txt", context).split()
    )
    body = render_to_string("registration/invite_email.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except OSError:
        logger.warning("Membership: invite email to user %s could not be sent", user.pk)


@transaction.atomic
def member_change(
    *,
    membership: Membership,
    by: User,
    role: Role | str,
    approval_limit: Decimal | None,
) -> Membership:
    """Set a member's role and approval limit. The last admin is never demoted."""
    checked_role = _role(role)
    limit = _checked_limit(checked_role, approval_limit)
    members = _lock_members(membership.workspace)
    current = next((m for m in members if m.pk == membership.pk), None)
    if current is None:
        raise MemberError("This person is no longer a member of the workspace.")
    if (
        current.role == Role.ADMIN
        and checked_role != Role.ADMIN
        and len(_admins(members)) <= 1
    ):
        raise MemberError(
            f"{_name(membership.user)} is the last workspace admin of "
            f"{membership.workspace}: make someone else an admin first.",
            field="role",
        )
    before = (current.role, current.approval_limit)
    current.role = checked_role
    current.approval_limit = limit
    current.save(update_fields=["role", "approval_limit"])
    logger.info(
        "Membership: user %s changed user %s in %s from %s (limit %s) to %s (limit %s)",
        by.pk,
        current.user_id,
        membership.workspace.slug,
        before[0],
        before[1],
        checked_role.value,
        limit,
    )
    membership.role, membership.approval_limit = current.role, current.approval_limit
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, by: User) -> None:
    """Take someone out of the workspace. Their orders and decisions stay in the history;
    the last admin is never removed."""
    members = _lock_members(membership.workspace)
    current = next((m for m in members if m.pk == membership.pk), None)
    if current is None:
        return  # already gone: removing twice is not an error
    if current.role == Role.ADMIN and len(_admins(members)) <= 1:
        raise MemberError(
            f"{_name(membership.user)} is the last workspace admin of "
            f"{membership.workspace} and cannot be removed: make someone else an admin "
            "first."
        )
    current.delete()
    logger.info(
        "Membership: user %s removed user %s from %s (was %s)",
        by.pk,
        current.user_id,
        membership.workspace.slug,
        current.role,
    )
