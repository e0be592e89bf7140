"""Mailbox CSV files: decoding an upload, importing it all-or-nothing, and exporting.

Split out of `orders.mailboxes` (which re-exports the public names) to keep each file small.
Pure Python (no Django).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from orders.csv_cells import escape_cell, unescape_cell
from orders.domains import domain_problem, normalise_domain, shorten
from orders.rules import DraftMailbox, name_problem, prefix_problem

CSV_COLUMNS: Final = ("domain", "first_name", "last_name", "email_prefix")
# The one cap on an uploaded mailbox file, checked on the upload's size before it is read
# (`upload_size_problem`) and again on the bytes (`decode_upload`).
MAX_UPLOAD_BYTES: Final = 1_048_576
UPLOAD_LIMIT_TEXT: Final = f"{MAX_UPLOAD_BYTES:,} ({MAX_UPLOAD_BYTES / 1_048_576:g} MB)"
# Text decoded from an upload within the cap never has more characters than it had bytes;
# this bounds text handed to `import_csv` by other means.
MAX_CSV_CHARS: Final = MAX_UPLOAD_BYTES
MAX_CSV_LINES: Final = 10_000
_DELIMITERS: Final = (",", ";", "\t")

# Header spellings people actually use, compared with case, spaces, "_", "-" and "." removed.
_ALIASES: Final[Mapping[str, str]] = {
    "domain": "domain",
    "domainname": "domain",
    "website": "domain",
    "first": "first_name",
    "firstname": "first_name",
    "givenname": "first_name",
    "forename": "first_name",
    "last": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "prefix": "email_prefix",
    "emailprefix": "email_prefix",
    "emailaddressprefix": "email_prefix",
    "localpart": "email_prefix",
    "username": "email_prefix",
    # A full address can stand in for the prefix and, when there is no domain column, the domain.
    "email": "email",
    "emailaddress": "email",
    "mail": "email",
}
_HEADER_NOISE = str.maketrans("", "", " _-.\ufeff")


@dataclass(frozen=True)
class LineProblem:
    """One problem in pasted or uploaded text. `line` is 1-based, as an editor counts."""

    line: int
    field: str  # a CSV column, "name", "header", "row" or "file"
    reason: str  # a phrase naming the value, e.g. "the prefix 'jo..hn' has two dots in a row"

    @property
    def message(self) -> str:
        return f"Line {self.line}: {self.reason}"


@dataclass(frozen=True)
class DecodedUpload:
    text: str = ""
    encoding: str = ""  # "utf-8", "utf-16" or "cp1252"; "" on error
    note: str = ""  # something the user should know even though it worked
    error: str = ""  # why the file could not be read; "" on success

    @property
    def ok(self) -> bool:
        return not self.error


def upload_size_problem(size: int) -> str:
    """Why a file of `size` bytes is refused, naming the limit; "" when it is within it."""
    if size <= MAX_UPLOAD_BYTES:
        return ""
    return f"The file is {size:,} bytes; the limit is {UPLOAD_LIMIT_TEXT}."


def decode_upload(data: bytes) -> DecodedUpload:
    """Turn an uploaded file into text. Never raises.

    UTF-8 (with or without a BOM) and BOM-marked UTF-16 (Excel's "Unicode text") are read as
    such. Anything else is read as Windows-1252, what Excel on Windows writes for "CSV",
    with a note asking the user to check accents.
    """
    if too_big := upload_size_problem(len(data)):
        return DecodedUpload(error=too_big)
    if data.startswith(b"PK\x03\x04"):
        return DecodedUpload(
            error="This is an Excel workbook, not a CSV file; save it as 'CSV UTF-8' and upload that."
        )
    for bom, encoding in (
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return DecodedUpload(
                    text=data.decode(encoding).lstrip("\ufeff"), encoding=encoding
                )
            except UnicodeDecodeError:
                return DecodedUpload(
                    error="The file says it is UTF-16 but is not; save it as 'CSV UTF-8'."
                )
    if b"\x00" in data:
        return DecodedUpload(
            error="This is not a text file; save the sheet as 'CSV UTF-8' and upload that."
        )
    try:
        return DecodedUpload(text=data.decode("utf-8-sig"), encoding="utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return DecodedUpload(
            error="The file is not UTF-8 text; save it as 'CSV UTF-8' and upload it again."
        )
    note = (
        "The file is not UTF-8, so it was read as Windows-1252 (Western European). "
        "Check that accented names look right."
    )
    return DecodedUpload(text=text, encoding="cp1252", note=note)


@dataclass(frozen=True)
class CsvImport:
    """The outcome of `import_csv`. `items` is filled only when the whole file is good."""

    items: dict[str, list[DraftMailbox]] = field(
        default_factory=dict
    )  # domain → mailboxes, file order
    problems: list[LineProblem] = field(default_factory=list)
    rows: int = 0  # mailbox rows read
    delimiter: str = ","

    @property
    def ok(self) -> bool:
        return not self.problems


def import_csv(text: str) -> CsvImport:
    """Read mailboxes from CSV text; all or nothing. Never raises.

    The first line must be a header naming domain, first_name, last_name and email_prefix
    (aliases and any case accepted; other columns are ignored); the delimiter (comma,
    semicolon or tab) is taken from it. Domains are normalised and prefixes lower-cased.
    Every problem is listed with its line; when there is any, `items` is empty.
    """
    if len(text) > MAX_CSV_CHARS:
        reason = (
            f"the file has {len(text):,} characters; the limit is {UPLOAD_LIMIT_TEXT}"
        )
        return CsvImport(problems=[LineProblem(1, "file", reason)])
    text = text.removeprefix("\ufeff")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Header names rarely contain these characters, so the most frequent one in it is
    # the delimiter; ties go to the comma, listed first.
    delimiter = max(_DELIMITERS, key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    state = _Import(delimiter)
    line = 1
    try:
        for record in reader:
            if line > MAX_CSV_LINES:
                state.problem(
                    line,
                    "file",
                    f"the file has more than {MAX_CSV_LINES:,} lines; split it up",
                )
                break
            state.record(line, record)
            line = reader.line_num + 1
    except csv.Error as error:
        state.problem(
            reader.line_num or line,
            "row",
            f"the CSV cannot be read from here ({error})",
        )
    return state.result(line)


class _Import:
    """The mutable state of one `import_csv` run."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        # Field name → cell index, once a usable header has been read.
        self.columns: dict[str, int] | None = None
        self.skip_rows = False
        self.width = 0
        self.items: dict[str, list[DraftMailbox]] = {}
        self.prefix_lines: dict[tuple[str, str], int] = {}
        self.problems: list[LineProblem] = []
        self.rows = 0

    def problem(self, line: int, field: str, reason: str) -> None:
        self.problems.append(LineProblem(line, field, reason))

    def record(self, line: int, record: list[str]) -> None:
        cells = [unescape_cell(cell.strip()) for cell in record]
        if not any(cells):
            return
        if self.skip_rows:
            return
        if self.columns is None:
            self.header(line, cells)
        else:
            self.row(line, cells, self.columns)

    def header(self, line: int, cells: list[str]) -> None:
        self.width = len(cells)
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = _ALIASES.get(cell.lower().translate(_HEADER_NOISE))
            if name is None:
                continue
            if name in columns:
                self.problem(
                    line,
                    "header",
                    f"columns {columns[name] + 1} and {index + 1} are both {name}",
                )
            columns.setdefault(name, index)
        # An "email" column can stand in for the domain and the prefix.
        missing = [
            column
            for column in CSV_COLUMNS
            if column not in columns
            and not (column in ("domain", "email_prefix") and "email" in columns)
        ]
        if len(missing) == len(CSV_COLUMNS):
            reason = f"the first line must be a header naming the columns: {', '.join(CSV_COLUMNS)}"
            self.problem(line, "header", reason)
        elif missing:
            self.problem(
                line, "header", f"the header has no {' or '.join(missing)} column"
            )
        # Without its columns every row would repeat the header's problem, so rows are skipped.
        self.columns = None if missing else columns
        self.skip_rows = bool(missing)

    def row(self, line: int, cells: list[str], columns: dict[str, int]) -> None:
        if len(cells) != self.width and (
            len(cells) < self.width or any(cells[self.width :])
        ):
            self.problem(
                line,
                "row",
                f"the row has {len(cells)} cells; the header has {self.width}",
            )
            return
        self.rows += 1

        def cell(column: str) -> str:
            return cells[columns[column]] if column in columns else ""

        # An "email" cell stands in for a missing domain and/or prefix column.
        email = cell("email")
        local, at, email_domain = email.rpartition("@")
        if not at:  # rpartition puts the whole text last when there is no "@"
            local, email_domain = email, ""
        domain = self.domain(
            line, cell("domain") if "domain" in columns else email_domain, columns
        )
        if "domain" not in columns and not at:
            self.problem(
                line, "email", f"the address '{shorten(email)}' has no @domain"
            )
        first, last = cell("first_name"), cell("last_name")
        for column, label, value in (
            ("first_name", "first name", first),
            ("last_name", "last name", last),
        ):
            issue = name_problem(value)
            if issue:
                self.problem(line, column, f"the {label} {issue[1]}")
        raw_prefix = cell("email_prefix") if "email_prefix" in columns else local
        prefix = raw_prefix.lower()  # local parts are case-insensitive in practice
        if problem := prefix_problem(prefix):
            self.problem(
                line, "email_prefix", f"the prefix '{shorten(raw_prefix)}' {problem}"
            )
            return
        if domain is None:
            return
        if (domain, prefix) in self.prefix_lines:
            earlier = self.prefix_lines[(domain, prefix)]
            self.problem(
                line,
                "email_prefix",
                f"the prefix '{prefix}' is already used on {domain} (line {earlier})",
            )
            return
        self.prefix_lines[(domain, prefix)] = line
        self.items.setdefault(domain, []).append(DraftMailbox(first, last, prefix))

    def domain(self, line: int, value: str, columns: dict[str, int]) -> str | None:
        """The row's normalised domain, or None after recording why it is unusable."""
        if not value:
            if "domain" in columns:  # otherwise the missing "@domain" is the problem
                self.problem(line, "domain", "the domain is missing")
            return None
        if problem := domain_problem(value):
            self.problem(
                line,
                "domain",
                f"the domain '{shorten(value)}' is not valid ({problem})",
            )
            return None
        return normalise_domain(value)

    def result(self, next_line: int) -> CsvImport:
        if self.columns is None and not self.problems:  # only blank lines
            self.problem(
                1,
                "header",
                f"the file is empty; the first line must be the header: {', '.join(CSV_COLUMNS)}",
            )
        elif self.rows == 0 and not self.problems:
            self.problem(
                next_line, "file", "there are no mailbox rows after the header"
            )
        if self.problems:
            return CsvImport(
                problems=self.problems, rows=self.rows, delimiter=self.delimiter
            )
        return CsvImport(items=self.items, rows=self.rows, delimiter=self.delimiter)


def export_csv(items: Iterable[tuple[str, Sequence[DraftMailbox]]]) -> str:
    """CSV text with the import's header, one row per mailbox; `import_csv` reads it back.

    Pass `dict.items()` or (domain, mailboxes) pairs. Cells that a spreadsheet would run as
    a formula are escaped (orders.csv_cells), and the import undoes it.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for domain, mailboxes in items:
        for mailbox in mailboxes:
            cells = (
                domain,
                mailbox.first_name,
                mailbox.last_name,
                mailbox.email_prefix,
            )
            writer.writerow([escape_cell(cell) for cell in cells])
    return out.getvalue()
