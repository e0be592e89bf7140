"""Spreadsheet-safe CSV cells: the one escape of every CSV the portal writes (order history,
a draft's mailboxes) and its inverse for the CSV it reads back (the mailbox import).

A spreadsheet runs a cell starting with "=", "+", "-", "@", a tab or a carriage return as a
formula ("CSV injection"): a name like "=HYPERLINK(…)" typed by one user would run in a
colleague's Excel. Such a cell gets a leading apostrophe, which spreadsheets show as plain
text. A cell that already starts with an apostrophe gets one too: a spreadsheet would
otherwise hide the user's own apostrophe ("'=1" shown as "=1"), and the import could not tell
an escape from a value, so exporting and importing again would change it.

Pure Python (no Django).
"""

from __future__ import annotations

from typing import Final

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
ESCAPE: Final = "'"
_ESCAPED_STARTS: Final = (ESCAPE, *FORMULA_STARTS)


def escape_cell(text: str) -> str:
    """`text` as a cell no spreadsheet runs, undone exactly by `unescape_cell`."""
    return ESCAPE + text if text.startswith(_ESCAPED_STARTS) else text


def unescape_cell(text: str) -> str:
    """The value `escape_cell` was given. A leading apostrophe is removed only where
    `escape_cell` would have added it, so a hand-written "'Neil" is read as typed."""
    if text.startswith(ESCAPE) and text[1:].startswith(_ESCAPED_STARTS):
        return text[1:]
    return text
