"""The persona library's writes: add, change and remove a persona, import a CSV file, and the
library's CSV export (docs/planning.md, "Persona library").

A persona's name is copied onto the mailboxes made from it, so nothing here touches an order:
changing or removing a persona leaves every draft and bought mailbox as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from orders.models import Persona, Workspace
from orders.persona_csv import (
    MAX_LIBRARY,
    PersonaFields,
    PersonaFile,
    RowProblem,
    clean_fields,
    export_text,
    read_upload,
)

logger = logging.getLogger(__name__)


class PersonaError(Exception):
    """A refused change, worded for the person. `field` names the form field at fault (None:
    the request as a whole)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _checked(
    *,
    workspace: Workspace,
    first_name: str,
    last_name: str,
    title: str,
    signature: str,
    instead_of: Persona | None = None,
) -> PersonaFields:
    fields, problems = clean_fields(first_name, last_name, title, signature)
    if problems:
        column, reason = next(iter(problems.items()))
        raise PersonaError(reason[0].upper() + reason[1:] + ".", field=column)
    same = Persona.objects.in_workspace(workspace).filter(
        first_name__iexact=fields.first_name, last_name__iexact=fields.last_name
    )
    if instead_of is not None:
        same = same.exclude(pk=instead_of.pk)
    if same.exists():
        raise PersonaError(
            f"{fields.full_name} is already in the library.", field="last_name"
        )
    return fields


def _duplicate(fields: PersonaFields) -> PersonaError:
    # Two people saved the same name at once: the constraint caught the second.
    return PersonaError(
        f"{fields.full_name} is already in the library.", field="last_name"
    )


def _room_problem(workspace: Workspace, adding: int) -> str:
    have = Persona.objects.in_workspace(workspace).count()
    if have + adding <= MAX_LIBRARY:
        return ""
    return (
        f"The library holds at most {MAX_LIBRARY:,} people; it has {have:,}, so "
        f"{adding:,} more do not fit."
    )


def persona_create(
    *,
    workspace: Workspace,
    by: User,
    first_name: str,
    last_name: str,
    title: str = "",
    signature: str = "",
) -> Persona:
    fields = _checked(
        workspace=workspace,
        first_name=first_name,
        last_name=last_name,
        title=title,
        signature=signature,
    )
    if problem := _room_problem(workspace, 1):
        raise PersonaError(problem)
    try:
        with transaction.atomic():
            persona = Persona.objects.create(
                workspace=workspace,
                first_name=fields.first_name,
                last_name=fields.last_name,
                title=fields.title,
                signature=fields.signature,
            )
    except IntegrityError:
        raise _duplicate(fields) from None
    logger.info(
        "persona %s added to workspace %s by %s", persona.pk, workspace.pk, by.pk
    )
    return persona


def persona_change(
    *,
    persona: Persona,
    by: User,
    first_name: str,
    last_name: str,
    title: str = "",
    signature: str = "",
) -> Persona:
    """Changes the persona only: mailboxes already made from it keep their copied names."""
    fields = _checked(
        workspace=persona.workspace,
        first_name=first_name,
        last_name=last_name,
        title=title,
        signature=signature,
        instead_of=persona,
    )
    persona.first_name = fields.first_name
    persona.last_name = fields.last_name
    persona.title = fields.title
    persona.signature = fields.signature
    try:
        with transaction.atomic():
            persona.save(
                update_fields=[
                    "first_name",
                    "last_name",
                    "title",
                    "signature",
                    "updated_at",
                ]
            )
    except IntegrityError:
        raise _duplicate(fields) from None
    logger.info("persona %s changed by %s", persona.pk, by.pk)
    return persona


def persona_delete(*, persona: Persona, by: User) -> None:
    """Removes the persona only: mailboxes already made from it keep their names."""
    pk = persona.pk
    persona.delete()
    logger.info("persona %s removed by %s", pk, by.pk)


@dataclass(frozen=True)
class PersonaImport:
    added: int
    problems: list[RowProblem]
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def personas_import(*, workspace: Workspace, by: User, data: bytes) -> PersonaImport:
    """Add every person of an uploaded CSV file, or nobody when any row has a problem."""
    existing = Persona.objects.in_workspace(workspace).values_list(
        "first_name", "last_name"
    )
    read: PersonaFile = read_upload(data, existing=existing)
    if not read.ok:
        return PersonaImport(added=0, problems=read.problems, note=read.note)
    if problem := _room_problem(workspace, len(read.people)):
        return PersonaImport(
            added=0,
            problems=[RowProblem(0, "file", problem.rstrip("."))],
            note=read.note,
        )
    try:
        with transaction.atomic():
            Persona.objects.bulk_create(
                Persona(
                    workspace=workspace,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    title=person.title,
                    signature=person.signature,
                )
                for person in read.people
            )
    except IntegrityError:
        # Someone added one of these people while the file was read.
        reason = "someone added one of these people meanwhile; upload the file again"
        return PersonaImport(added=0, problems=[RowProblem(0, "file", reason)])
    logger.info(
        "%s personas imported into workspace %s by %s",
        len(read.people),
        workspace.pk,
        by.pk,
    )
    return PersonaImport(added=len(read.people), problems=[], note=read.note)


def personas_export(*, workspace: Workspace) -> str:
    """The library as CSV text (reads only)."""
    return export_text(
        PersonaFields(p.first_name, p.last_name, p.title, p.signature)
        for p in Persona.objects.in_workspace(workspace)
    )
