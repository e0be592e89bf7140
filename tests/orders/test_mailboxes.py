from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.mailbox_csv import MAX_CSV_CHARS, MAX_CSV_LINES, MAX_UPLOAD_BYTES
from orders.mailboxes import (
    BUILTIN_NAMES,
    DEFAULT_PATTERN,
    FALLBACK_PREFIX,
    MAX_GENERATED,
    PATTERNS,
    LineProblem,
    copy_personas,
    decode_upload,
    export_csv,
    generate_mailboxes,
    import_csv,
    make_prefix,
    microsoft_bundle,
    parse_names,
    upload_size_problem,
)
from orders.rules import (
    DFY,
    MICROSOFT,
    PROVIDER_RULES,
    DraftItem,
    DraftMailbox,
    check_draft,
    name_problem,
    prefix_problem,
)

HEADER = "domain,first_name,last_name,email_prefix\r\n"


def reasons(problems: list[LineProblem]) -> list[tuple[int, str, str]]:
    return [(p.line, p.field, p.reason) for p in problems]


# --- prefixes and the generator -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("first.last", "jane.doe"),
        ("first", "jane"),
        ("firstlast", "janedoe"),
        ("first_last", "jane_doe"),
        ("first-last", "jane-doe"),
        ("f.last", "j.doe"),
        ("flast", "jdoe"),
        ("first.l", "jane.d"),
        ("first_l", "jane_d"),
        ("firstl", "janed"),
        ("last.first", "doe.jane"),
        ("lastfirst", "doejane"),
        ("last", "doe"),
    ],
)
def test_make_prefix_each_pattern(pattern, prefix):
    assert make_prefix("Jane", "Doe", pattern) == prefix
    roe = make_prefix("Jane", "Roe", pattern)
    assert PATTERNS[pattern].label == f"{pattern}, as in {roe}@"


def test_pattern_labels_are_human():
    assert PATTERNS["first.last"].label == "first.last, as in jane.roe@"
    assert PATTERNS["flast"].label == "flast, as in jroe@"


@pytest.mark.parametrize(
    ("first", "last", "prefix"),
    [
        ("Zoë", "Weiß", "zoe.weiss"),
        ("Siobhán", "O'Brien", "siobhan.obrien"),
        ("Jean-Luc", "Picard", "jean-luc.picard"),
        ("Mary Ann", "van der Berg", "maryann.vanderberg"),
        ("Søren", "Łukasz", "soren.lukasz"),
        ("-Jo-", "--Doe", "jo.doe"),
        ("张", "Wei", "wei"),
        ("张", "伟", FALLBACK_PREFIX),
        ("A" * 80, "B", "a" * 64),
    ],
)
def test_make_prefix_folds_and_cleans_names(first, last, prefix):
    assert make_prefix(first, last, "first.last") == prefix


def test_generate_mailboxes_cycles_names_and_numbers_repeats():
    names = [("Jane", "Doe"), ("John", "Roe")]

    boxes = generate_mailboxes(names, "first.last", 5, existing_prefixes=["JOHN.ROE"])

    assert boxes == [
        DraftMailbox("Jane", "Doe", "jane.doe"),
        DraftMailbox("John", "Roe", "john.roe2"),
        DraftMailbox("Jane", "Doe", "jane.doe2"),
        DraftMailbox("John", "Roe", "john.roe3"),
        DraftMailbox("Jane", "Doe", "jane.doe3"),
    ]


def test_generate_mailboxes_separates_a_number_from_a_trailing_digit():
    boxes = generate_mailboxes([("Agent", "7")], "firstlast", 2)

    assert [box.email_prefix for box in boxes] == ["agent7", "agent7-2"]


def test_generate_mailboxes_keeps_long_prefixes_within_the_limit():
    boxes = generate_mailboxes([("a" * 70, "b")], "first", 12)

    assert all(len(box.email_prefix) <= 64 for box in boxes)
    assert boxes[-1].email_prefix == "a" * 62 + "12"


def test_generate_mailboxes_uses_builtin_names_when_none_are_given():
    boxes = generate_mailboxes([], DEFAULT_PATTERN, 3)

    assert [(b.first_name, b.last_name) for b in boxes] == list(BUILTIN_NAMES[:3])


@pytest.mark.parametrize(
    ("names", "pattern", "count", "message"),
    [
        ([], "nope", 1, "unknown prefix pattern"),
        ([], "first", -1, "count must be between"),
        ([], "first", MAX_GENERATED + 1, "count must be between"),
        ([("Jane", " ")], "first", 1, "name 1"),
    ],
)
def test_generate_mailboxes_refuses_bad_arguments(names, pattern, count, message):
    with pytest.raises(ValueError, match=message):
        generate_mailboxes(names, pattern, count)


def test_builtin_names_are_varied_valid_and_make_readable_prefixes():
    firsts = [first for first, _ in BUILTIN_NAMES]

    assert 55 <= len(BUILTIN_NAMES) <= 70
    assert len(set(firsts)) == len(firsts)
    assert all(name_problem(part) is None for pair in BUILTIN_NAMES for part in pair)
    assert len({make_prefix(f, last, "first") for f, last in BUILTIN_NAMES}) == len(
        BUILTIN_NAMES
    )
    assert FALLBACK_PREFIX not in {make_prefix(f, last) for f, last in BUILTIN_NAMES}


def test_microsoft_bundle_fills_the_table_count_and_passes_the_rules():
    bundle = microsoft_bundle()

    assert len(bundle) == PROVIDER_RULES[MICROSOFT].min_mailboxes == 50
    assert check_draft(DFY, [DraftItem("acme.com", MICROSOFT, "", tuple(bundle))]) == []


def test_microsoft_bundle_with_given_names_and_pattern():
    bundle = microsoft_bundle([("Jane", "Doe")], pattern="flast")

    assert len(bundle) == 50
    assert bundle[0].email_prefix == "jdoe"
    assert bundle[49].email_prefix == "jdoe50"


def test_copy_personas_keeps_names_and_prefixes():
    source = generate_mailboxes([("Jane", "Doe"), ("John", "Roe")], "first", 2)

    copy = copy_personas(source)

    assert copy == source
    assert copy is not source
    items = [
        DraftItem("acme.com", 1, "", tuple(source)),
        DraftItem("acme.org", 1, "", tuple(copy)),
    ]
    assert check_draft(DFY, items) == []


def test_parse_names_reads_both_orders_and_rejects_one_word_lines():
    text = (
        "Jane Doe\n\nDoe, John\nCher\n  Jan van der Berg  \nSmith,\nAnn\tLee\n"
        + "X" * 101
        + " Y\n"
    )

    names, problems = parse_names(text)

    assert names == [
        ("Jane", "Doe"),
        ("John", "Doe"),
        ("Jan", "van der Berg"),
        ("Ann", "Lee"),
    ]
    assert [(p.line, p.field) for p in problems] == [
        (4, "name"),
        (6, "name"),
        (8, "name"),
    ]
    assert (
        problems[0].message
        == "Line 4: 'Cher' needs a first and a last name ('First Last' or 'Last, First')"
    )
    assert "is 101 characters long" in problems[2].reason


# --- CSV ---------------------------------------------------------------------------------


def test_import_csv_reads_a_good_file_in_first_seen_domain_order():
    text = (
        HEADER
        + "Beta.com,Jane,Doe,jane\r\nalpha.org,John,Roe,John.Roe\r\n\r\nbeta.com,Ann,Lee,ann\r\n"
    )

    result = import_csv(text)

    assert result.ok
    assert result.rows == 3
    assert list(result.items) == ["beta.com", "alpha.org"]
    assert result.items["beta.com"] == [
        DraftMailbox("Jane", "Doe", "jane"),
        DraftMailbox("Ann", "Lee", "ann"),
    ]
    assert result.items["alpha.org"] == [DraftMailbox("John", "Roe", "john.roe")]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("\ufeffDomain;First Name;Surname;Prefix\nacme.com;Jane;Doe;jane\n", ";"),
        ("DOMAIN\tFIRST\tLAST\tEMAIL_PREFIX\nacme.com\tJane\tDoe\tjane\n", "\t"),
        ("prefix,last,first,domain,notes\njane,Doe,Jane,acme.com,VIP\n", ","),
        ("email,firstname,lastname\njane@acme.com,Jane,Doe\n", ","),
    ],
)
def test_import_csv_accepts_aliases_bom_and_delimiters(text, delimiter):
    result = import_csv(text)

    assert result.ok, result.problems
    assert result.delimiter == delimiter
    assert result.items == {"acme.com": [DraftMailbox("Jane", "Doe", "jane")]}


def test_import_csv_lists_every_problem_with_its_line_and_nothing_else():
    text = (
        HEADER
        + "acme.com,Jane,Doe,jane\r\n"  # 2: fine
        + "acme..com,John,Roe,john\r\n"  # 3
        + "acme.com,,Roe,jo..hn\r\n"  # 4
        + "acme.com,Ann,Lee\r\n"  # 5
        + "ACME.com,Jim,Poe,JANE\r\n"  # 6
        + 'acme.com,"Multi\nLine",Poe,multi\r\n'  # 7-8
        + "acme.com,Kim,Ray,kim,,\r\n"  # 9: trailing empty cells are fine
        + "acme.com,Kim,Ray,kim2,extra\r\n"  # 10
    )

    result = import_csv(text)

    assert not result.ok
    assert result.items == {}
    assert reasons(result.problems) == [
        (
            3,
            "domain",
            "the domain 'acme..com' is not valid (empty label (two dots in a row, or a leading dot))",
        ),
        (4, "first_name", "the first name is missing"),
        (4, "email_prefix", "the prefix 'jo..hn' has two dots in a row"),
        (5, "row", "the row has 3 cells; the header has 4"),
        (6, "email_prefix", "the prefix 'jane' is already used on acme.com (line 2)"),
        (7, "first_name", "the first name contains a control character or line break"),
        (10, "row", "the row has 5 cells; the header has 4"),
    ]
    assert result.problems[0].message.startswith("Line 3: the domain")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "",
            [
                (
                    1,
                    "header",
                    "the file is empty; the first line must be the header: domain, first_name, last_name, email_prefix",
                )
            ],
        ),
        (
            "acme.com,Jane,Doe,jane\n",
            [
                (
                    1,
                    "header",
                    "the first line must be a header naming the columns: domain, first_name, last_name, email_prefix",
                )
            ],
        ),
        (
            "domain,first,last\nacme.com,Jane,Doe\n",
            [(1, "header", "the header has no email_prefix column")],
        ),
        (
            "domain,first,first,prefix\nacme.com,Jane,Doe,jane\n",
            [
                (1, "header", "columns 2 and 3 are both first_name"),
                (1, "header", "the header has no last_name column"),
            ],
        ),
        (HEADER, [(2, "file", "there are no mailbox rows after the header")]),
        (
            HEADER + 'acme.com,"Jane"x,Doe,jane\n',
            [(2, "row", "the CSV cannot be read from here (',' expected after '\"')")],
        ),
        (
            "email,first,last\nbob,Bob,Roe\n",
            [(2, "email", "the address 'bob' has no @domain")],
        ),
        ("email,domain,first,last\nbob@x.com,acme.com,Bob,Roe\n", []),
    ],
)
def test_import_csv_file_level_problems(text, expected):
    result = import_csv(text)

    assert reasons(result.problems) == expected


def test_import_csv_caps_lines_and_size():
    too_many = HEADER + "".join(
        f"acme.com,Jane,Doe,j{i}\n" for i in range(MAX_CSV_LINES)
    )
    too_big = HEADER + "x" * MAX_CSV_CHARS

    many = import_csv(too_many)
    big = import_csv(too_big)

    assert reasons(many.problems) == [
        (MAX_CSV_LINES + 1, "file", "the file has more than 10,000 lines; split it up")
    ]
    assert big.problems[0].line == 1
    assert "the limit is 1,048,576 (1 MB)" in big.problems[0].reason


def test_export_csv_escapes_formulas_and_round_trips():
    items = {
        "acme.com": [
            DraftMailbox('=HYPERLINK("x")', "+1", "jane"),
            DraftMailbox("'Neil", "@home", "neil"),
        ],
        "acme.org": [DraftMailbox("Zoë, Jr.", 'The "Boss"', "zoe")],
    }

    text = export_csv(items.items())
    result = import_csv(text)

    assert text.splitlines()[:3] == [
        "domain,first_name,last_name,email_prefix",
        'acme.com,"\'=HYPERLINK(""x"")",\'+1,jane',
        "acme.com,''Neil,'@home,neil",
    ]
    assert result.ok
    assert result.items == items


def test_decode_upload_reads_utf8_with_and_without_bom():
    plain = decode_upload("domain\nZoë".encode())
    bom = decode_upload(codecs.BOM_UTF8 + "domain\nZoë".encode())

    assert (plain.text, plain.encoding, plain.note, plain.ok) == (
        "domain\nZoë",
        "utf-8",
        "",
        True,
    )
    assert (bom.text, bom.encoding) == ("domain\nZoë", "utf-8")


def test_decode_upload_reads_utf16_and_falls_back_to_cp1252_with_a_note():
    utf16 = decode_upload("domain\tZoë".encode("utf-16"))
    legacy = decode_upload("domain\nZoë".encode("cp1252"))

    assert (utf16.text, utf16.encoding) == ("domain\tZoë", "utf-16")
    assert (legacy.text, legacy.encoding) == ("domain\nZoë", "cp1252")
    assert "Windows-1252" in legacy.note


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            b"\x81\x8d\x8f",
            "The file is not UTF-8 text; save it as 'CSV UTF-8' and upload it again.",
        ),
        (
            b"PK\x03\x04rest",
            "This is an Excel workbook, not a CSV file; save it as 'CSV UTF-8' and upload that.",
        ),
        (
            b"abc\x00def",
            "This is not a text file; save the sheet as 'CSV UTF-8' and upload that.",
        ),
        (
            b"a" * (MAX_UPLOAD_BYTES + 1),
            "The file is 1,048,577 bytes; the limit is 1,048,576 (1 MB).",
        ),
    ],
)
def test_decode_upload_refuses_unreadable_files(data, error):
    result = decode_upload(data)

    assert not result.ok
    assert result.error == error
    assert result.text == ""


def test_the_upload_cap_is_one_limit_named_in_its_message():
    assert upload_size_problem(0) == ""
    assert upload_size_problem(MAX_UPLOAD_BYTES) == ""
    assert upload_size_problem(MAX_UPLOAD_BYTES + 1) == (
        "The file is 1,048,577 bytes; the limit is 1,048,576 (1 MB)."
    )
    # Text decoded from a file within the cap always fits the text limit.
    assert MAX_CSV_CHARS == MAX_UPLOAD_BYTES


# --- properties ------------------------------------------------------------------------------

# Names as import_csv returns them: stripped, no control characters; some start with
# characters a spreadsheet would treat as a formula, to exercise the export's escaping.
valid_names = (
    st.tuples(
        st.sampled_from(["", "", "", "=", "+", "-", "@", "'", "''", '"', "'="]),
        st.text(
            st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
            min_size=1,
            max_size=15,
        ),
    )
    .map(lambda parts: "".join(parts).strip())
    .filter(lambda name: name_problem(name) is None)
)
name_pairs = st.tuples(valid_names, valid_names)
valid_prefixes = st.from_regex(r"\A[a-z0-9](?:[a-z0-9_-]{0,10}[a-z0-9])?\Z")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30), st.sampled_from(sorted(PATTERNS)))
def test_make_prefix_is_always_valid(first, last, pattern):
    assert prefix_problem(make_prefix(first, last, pattern)) is None


@settings(max_examples=100, deadline=None)
@given(
    st.lists(name_pairs, max_size=5),
    st.sampled_from(sorted(PATTERNS)),
    st.integers(min_value=0, max_value=60),
    st.lists(valid_prefixes, max_size=10),
)
def test_generated_prefixes_are_valid_and_unique_on_the_domain(
    names, pattern, count, existing
):
    boxes = generate_mailboxes(names, pattern, count, existing)

    prefixes = [box.email_prefix for box in boxes]
    assert len(boxes) == count
    assert all(prefix_problem(prefix) is None for prefix in prefixes)
    assert len(set(prefixes)) == len(prefixes)
    assert not set(prefixes) & set(existing)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_names_never_raises_and_locates_every_rejection(text):
    names, problems = parse_names(text)

    line_count = max(1, len(text.splitlines()))
    assert all(
        name_problem(first) is None and name_problem(last) is None
        for first, last in names
    )
    assert all(
        1 <= problem.line <= line_count and problem.reason for problem in problems
    )


csv_like = st.text(
    alphabet=st.sampled_from("abcJ@.,;\t\n\r\"' =é\x00-") | st.characters(),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        csv_like,
        csv_like.map(lambda body: HEADER + body),
        csv_like.map(lambda body: "email;first;last\n" + body),
    )
)
def test_import_csv_never_raises_and_locates_every_problem(text):
    result = import_csv(text)

    line_count = text.count("\n") + text.count("\r") + 2
    assert result.ok == (not result.problems)
    assert result.ok == bool(result.items)
    for problem in result.problems:
        assert 1 <= problem.line <= line_count
        assert problem.field
        assert problem.reason
        assert problem.message.startswith(f"Line {problem.line}: ")


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300) | st.text(max_size=100).map(lambda t: t.encode("utf-16"))
)
def test_decode_upload_never_raises(data):
    result = decode_upload(data)

    assert result.ok != bool(result.error)
    if result.ok:
        assert result.encoding


domain_names = st.from_regex(r"\A[a-z0-9]{1,10}\.(com|org|co)\Z")
mailbox_lists = st.lists(
    st.builds(DraftMailbox, valid_names, valid_names, valid_prefixes),
    min_size=1,
    max_size=6,
    unique_by=lambda m: m.email_prefix,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(domain_names, mailbox_lists, min_size=1, max_size=4))
def test_export_then_import_round_trips(items):
    result = import_csv(export_csv(items.items()))

    assert result.ok, result.problems
    assert result.items == items
    assert list(result.items) == list(items)
