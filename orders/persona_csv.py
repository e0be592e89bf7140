"""The persona library's fields and its CSV file: the rules a persona's fields follow, reading
an uploaded file into checked rows, and writing the library out. Pure Python (no Django).

A file is read whole and every problem is listed by spreadsheet row and column; the service
(orders/personas.py) adds nothing unless there is none (docs/planning.md says why).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from orders.csv_cells import escape_cell, unescape_cell
from orders.domains import shorten
from orders.mailbox_csv import MAX_UPLOAD_BYTES, decode_upload
from orders.rules import NAME_MAX_LENGTH, name_problem

COLUMNS: Final = ("first_name", "last_name", "title", "signature")
REQUIRED: Final = ("first_name", "last_name")
LABELS: Final = {
    "first_name": "first name",
    "last_name": "last name",
    "title": "title",
    "signature": "signature",
}
TITLE_MAX: Final = NAME_MAX_LENGTH
SIGNATURE_MAX: Final = 2000
# A library is a few hundred people at most in practice; the caps keep one upload (and the
# picker, which reads the whole library on every call) cheap.
MAX_ROWS: Final = 2_000
MAX_LIBRARY: Final = 5_000
_DELIMITERS: Final = (",", ";", "\t")
# Line breaks and tabs belong in a signature; no other control character does.
_SIGNATURE_ALLOWED: Final = frozenset("\n\t")


@dataclass(frozen=True)
class PersonaFields:
    first_name: str
    last_name: str
    title: str = ""
    signature: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def clean_fields(
    first_name: str, last_name: str, title: str = "", signature: str = ""
) -> tuple[PersonaFields, dict[str, str]]:
    """The fields as stored (spaces around trimmed, signature line breaks as "\\n") and, per
    field, why it breaks the rules ("the first name is missing")."""
    fields = PersonaFields(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        title=title.strip(),
        signature=signature.replace("\r\n", "\n").replace("\r", "\n").strip(),
    )
    problems: dict[str, str] = {}
    for column in REQUIRED:
        if issue := name_problem(getattr(fields, column)):
            problems[column] = f"the {LABELS[column]} {issue[1]}"
    # A title follows the name rules (TITLE_MAX is the names' limit), but may be empty.
    if fields.title and (issue := name_problem(fields.title)):
        problems["title"] = f"the title {issue[1]}"
    if len(fields.signature) > SIGNATURE_MAX:
        problems["signature"] = (
            f"the signature is {len(fields.signature):,} characters long; the limit is "
            f"{SIGNATURE_MAX:,}"
        )
    elif any(
        unicodedata.category(ch) == "Cc" and ch not in _SIGNATURE_ALLOWED
        for ch in fields.signature
    ):
        problems["signature"] = "the signature contains a control character"
    return fields, problems


@dataclass(frozen=True)
class RowProblem:
    """One problem in an uploaded file. `row` counts as a spreadsheet does (the header is
    row 1); `column` is one of COLUMNS, or "header" or "file"."""

    row: int
    column: str
    reason: str

    @property
    def message(self) -> str:
        if not self.row:  # the file as a whole
            return f"{self.reason[:1].upper()}{self.reason[1:]}."
        where = f"Row {self.row}"
        if self.column in COLUMNS:
            where += f", {self.column}"
        return f"{where}: {self.reason}."


@dataclass(frozen=True)
class PersonaFile:
    """What an upload holds: its people (only when it has no problem) and its problems."""

    people: list[PersonaFields] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    note: str = ""  # true even when it worked, e.g. "read as Windows-1252"

    @property
    def ok(self) -> bool:
        return not self.problems


def read_upload(
    data: bytes, *, existing: Iterable[tuple[str, str]] = ()
) -> PersonaFile:
    """Read an uploaded persona file. Never raises.

    `existing` are the library's names: a row naming one of them (in any case) is a
    problem, as is a name twice in the file. Every problem is listed; `people` is empty
    when there is any.
    """
    decoded = decode_upload(data)
    if not decoded.ok:
        return PersonaFile(problems=[RowProblem(0, "file", decoded.error.rstrip("."))])
    return read_text(decoded.text, existing=existing, note=decoded.note)


def read_text(
    text: str, *, existing: Iterable[tuple[str, str]] = (), note: str = ""
) -> PersonaFile:
    if len(text) > MAX_UPLOAD_BYTES:
        reason = (
            f"the file has {len(text):,} characters; the limit is {MAX_UPLOAD_BYTES:,}"
        )
        return PersonaFile(problems=[RowProblem(0, "file", reason)], note=note)
    text = text.removeprefix("\ufeff")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Header names hold none of these, so the most frequent one in the header separates.
    delimiter = max(_DELIMITERS, key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    state = _Reading({_key(first, last) for first, last in existing})
    row = 0
    try:
        for row, record in enumerate(reader, start=1):
            if row > MAX_ROWS + 1:
                state.problem(
                    row,
                    "file",
                    f"the file has more than {MAX_ROWS:,} people; import at most "
                    f"{MAX_ROWS:,} at a time",
                )
                break
            state.record(row, record)
    except csv.Error as error:
        state.problem(row + 1, "file", f"this is not a readable CSV file ({error})")
    return state.result(note)


def _key(first: str, last: str) -> tuple[str, str]:
    return first.strip().lower(), last.strip().lower()


class _Reading:
    """The state of one `read_text` run."""

    def __init__(self, library: set[tuple[str, str]]) -> None:
        self.library = library
        self.columns: dict[str, int] | None = None
        self.width = 0
        self.stop = False
        self.seen: dict[tuple[str, str], int] = {}
        self.people: list[PersonaFields] = []
        self.problems: list[RowProblem] = []

    def problem(self, row: int, column: str, reason: str) -> None:
        self.problems.append(RowProblem(row, column, reason))

    def record(self, row: int, record: list[str]) -> None:
        cells = [unescape_cell(cell.strip()) for cell in record]
        if self.stop or not any(cells):
            return
        if self.columns is None:
            self.header(row, cells)
        else:
            self.person(row, cells, self.columns)

    def header(self, row: int, cells: list[str]) -> None:
        self.width = len(cells)
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = cell.lower().replace(" ", "_").replace("-", "_")
            shown = shorten(cell) or f"column {index + 1}"
            if name not in COLUMNS:
                self.problem(
                    row,
                    "header",
                    f"the column '{shown}' is not one this import reads; the columns "
                    f"are {', '.join(COLUMNS)} (title and signature may be left out)",
                )
            elif name in columns:
                self.problem(
                    row,
                    "header",
                    f"columns {columns[name] + 1} and {index + 1} are both {name}",
                )
            else:
                columns[name] = index
        missing = [column for column in REQUIRED if column not in columns]
        if missing:
            self.problem(
                row,
                "header",
                "the first row must be a header naming the columns "
                f"{', '.join(COLUMNS)}; it has no {' or '.join(missing)} column",
            )
        # Rows cannot be read against a header that is wrong: they would each repeat it.
        self.stop = bool(self.problems)
        self.columns = columns

    def person(self, row: int, cells: list[str], columns: dict[str, int]) -> None:
        if len(cells) > self.width and any(cells[self.width :]):
            self.problem(
                row,
                "file",
                f"the row has {len(cells)} cells; the header has {self.width}",
            )
            return

        def cell(column: str) -> str:
            index = columns.get(column)
            return cells[index] if index is not None and index < len(cells) else ""

        fields, problems = clean_fields(
            cell("first_name"), cell("last_name"), cell("title"), cell("signature")
        )
        for column, reason in problems.items():
            self.problem(row, column, reason)
        if problems:
            return
        key = _key(fields.first_name, fields.last_name)
        name = shorten(fields.full_name)
        if key in self.seen:
            self.problem(
                row,
                "last_name",
                f"{name} is already on row {self.seen[key]} of this file",
            )
            return
        self.seen[key] = row
        if key in self.library:
            self.problem(row, "last_name", f"{name} is already in the library")
            return
        self.people.append(fields)

    def result(self, note: str) -> PersonaFile:
        if not self.problems and self.columns is None:
            self.problem(
                0,
                "file",
                f"the file is empty; its first row must be the header: {', '.join(COLUMNS)}",
            )
        elif not self.problems and not self.people:
            self.problem(0, "file", "there are no people after the header")
        if self.problems:
            return PersonaFile(problems=self.problems, note=note)
        return PersonaFile(people=self.people, note=note)


def export_text(people: Iterable[PersonaFields]) -> str:
    """The library as CSV with the import's header; `read_text` reads it back. Cells a
    spreadsheet would run as a formula are escaped (orders/csv_cells.py)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for person in people:
        writer.writerow(
            escape_cell(value)
            for value in (
                person.first_name,
                person.last_name,
                person.title,
                person.signature,
            )
        )
    return out.getvalue()
