"""The one CSV cell escape (orders.csv_cells): formulas and leading apostrophes are defused,
and the mailbox import undoes exactly what the exports did."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.csv_cells import FORMULA_STARTS, escape_cell, unescape_cell


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe(start):
    assert escape_cell(f"{start}SUM(A1)") == f"'{start}SUM(A1)"


def test_a_leading_apostrophe_is_escaped_too():
    # Pinned rule: without it a spreadsheet hides the typed apostrophe ("'=1" shows as
    # "=1") and the import could not tell the escape from the value.
    assert escape_cell("'Neil") == "''Neil"
    assert escape_cell("'=1") == "''=1"
    assert unescape_cell("''Neil") == "'Neil"


@pytest.mark.parametrize("text", ["", "Neil", "O'Brien", "a=b", " =x", "1+1"])
def test_other_cells_are_left_alone(text):
    assert escape_cell(text) == text
    assert unescape_cell(text) == text


def test_a_hand_written_apostrophe_is_read_as_typed():
    # Only an apostrophe escape_cell would have added is removed.
    assert unescape_cell("'Neil") == "'Neil"
    assert unescape_cell("'") == "'"


@given(
    st.tuples(
        st.sampled_from(["", "'", "''", *FORMULA_STARTS, "'="]),
        st.text(max_size=10),
    ).map("".join)
)
def test_unescape_undoes_escape(text):
    assert unescape_cell(escape_cell(text)) == text
    assert not escape_cell(text).startswith(FORMULA_STARTS)
