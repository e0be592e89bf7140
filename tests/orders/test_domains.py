from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.domains import (
    MAX_PASTE_CHARS,
    MAX_PASTE_TOKENS,
    Rejection,
    TldPolicy,
    chunked,
    domain_is_valid,
    domain_problem,
    host_of,
    normalise_domain,
    parse_domain_list,
)
from orders.rules import tld_policy

NEW_DOMAINS = TldPolicy(frozenset({"com", "org"}), "new domains")

labels = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?\Z").filter(
    lambda label: label[2:4] != "--"
)
valid_domains = st.builds(
    lambda name, tld: f"{name}.{tld}", labels, st.sampled_from(["com", "org", "co"])
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("  Acme.COM.  ", "acme.com"),
        ("acme.com..", "acme.com"),
        ("bücher.com", "xn--bcher-kva.com"),
        ("BÜCHER.com", "xn--bcher-kva.com"),
        ("acme\u3002com", "acme.com"),
        ("xn--bcher-kva.com", "xn--bcher-kva.com"),
        ("not a domain", "not a domain"),
    ],
)
def test_normalise_domain_examples(raw, expected):
    result = normalise_domain(raw)

    assert result == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("acme", "not a domain"),
        ("acme..com", "empty label (two dots in a row, or a leading dot)"),
        (".acme.com", "empty label (two dots in a row, or a leading dot)"),
        ("a" * 64 + ".com", "label longer than 63 characters"),
        ("a." * 127 + "com", "longer than 253 characters"),
        ("ac me.com", "contains a space"),
        ("acme_mail.com", "contains '_', which is not allowed in a domain name"),
        ("-acme.com", "label '-acme' starts or ends with a hyphen"),
        ("acme-.com", "label 'acme-' starts or ends with a hyphen"),
        (
            "ab--cd.com",
            "label 'ab--cd' has '--' in the third and fourth positions, which is reserved",
        ),
        ("xn--zz.com", "'xn--zz' is not a valid internationalised (xn--) label"),
        ("acme.c0m", "'.c0m' is not a valid top-level domain"),
        ("acme.c", "'.c' is not a valid top-level domain"),
        ("10.0.0.1", "'.1' is not a valid top-level domain"),
    ],
)
def test_domain_problem_names_the_reason(name, reason):
    problem = domain_problem(name)

    assert problem == reason
    assert not domain_is_valid(name)


@pytest.mark.parametrize(
    "name",
    ["acme.com", "Acme.Org.", "bücher.com", "mail.acme.co.uk", "a-b.xn--p1ai", "x.io"],
)
def test_domain_is_valid_accepts_real_names(name):
    assert domain_is_valid(name)


@pytest.mark.parametrize(
    ("token", "host"),
    [
        ("https://www.Acme.com/path?q=1#top", "Acme.com"),
        ("http://user:pw@acme.com:8080/", "acme.com"),
        ("jane.doe@acme.com", "acme.com"),
        ("mailto:jane@acme.com", "acme.com"),
        ("<jane@acme.com>", "acme.com"),
        ("acme.com/pricing", "acme.com"),
        ('"acme.com"', "acme.com"),
        ("www.acme.com", "acme.com"),
        ("www.com", "www.com"),
    ],
)
def test_host_of_tolerates_urls_and_addresses(token, host):
    assert host_of(token) == host


def test_parse_domain_list_accepts_every_separator():
    text = "a.com\nb.com,c.com;d.com\te.com f.com\r\ng.com"

    parsed = parse_domain_list(text)

    assert parsed.domains == [
        "a.com",
        "b.com",
        "c.com",
        "d.com",
        "e.com",
        "f.com",
        "g.com",
    ]
    assert parsed.rejected == []
    assert parsed.ok


def test_parse_domain_list_normalises_and_drops_repeats_in_first_seen_order():
    text = "Zeta.com\nhttps://www.ACME.com/x\nzeta.com, acme.com. bücher.com\nzeta.com"

    parsed = parse_domain_list(text)

    assert parsed.domains == ["zeta.com", "acme.com", "xn--bcher-kva.com"]
    assert parsed.duplicates == ["zeta.com", "acme.com"]


def test_parse_domain_list_reports_rejections_with_line_and_position():
    text = "acme.com nope\n\nbad..com, ok.org\n-x.com"

    parsed = parse_domain_list(text)

    assert parsed.domains == ["acme.com", "ok.org"]
    assert parsed.rejected == [
        Rejection(1, "nope", "not a domain", 2),
        Rejection(
            3, "bad..com", "empty label (two dots in a row, or a leading dot)", 3
        ),
        Rejection(4, "-x.com", "label '-x' starts or ends with a hyphen", 5),
    ]
    assert parsed.rejected[0].message == "Line 1, item 2 'nope': not a domain"


def test_parse_domain_list_applies_a_tld_policy_only_when_given():
    text = "acme.net acme.com mail.acme.org"

    lenient = parse_domain_list(text)
    strict = parse_domain_list(text, NEW_DOMAINS)

    assert lenient.domains == ["acme.net", "acme.com", "mail.acme.org"]
    assert strict.domains == ["acme.com"]
    assert [r.reason for r in strict.rejected] == [
        "unsupported top-level domain .net for new domains (use .com or .org)",
        "mail.acme.org is a sub-domain; new domains are whole domains such as acme.org",
    ]


def test_parse_domain_list_with_the_pre_warmed_policy_accepts_co():
    parsed = parse_domain_list("acme.co acme.io", tld_policy("pre_warmed_up"))

    assert parsed.domains == ["acme.co"]
    assert (
        parsed.rejected[0].reason
        == "unsupported top-level domain .io for pre-warmed domains (use .com, .org or .co)"
    )


def test_parse_domain_list_refuses_an_oversized_paste_whole():
    text = "a.com " * (MAX_PASTE_CHARS // 6 + 1)

    parsed = parse_domain_list(text)

    assert parsed.domains == []
    assert len(parsed.rejected) == 1
    assert parsed.rejected[0].line == 1
    assert "paste at most 200,000" in parsed.rejected[0].reason


def test_parse_domain_list_stops_after_the_token_cap():
    text = "\n".join(f"d{i}.com" for i in range(MAX_PASTE_TOKENS + 10))

    parsed = parse_domain_list(text)

    assert len(parsed.domains) == MAX_PASTE_TOKENS
    assert parsed.truncated
    assert parsed.rejected == [
        Rejection(
            MAX_PASTE_TOKENS + 1,
            f"d{MAX_PASTE_TOKENS}.com",
            "only the first 5,000 items were read; paste the rest separately",
            MAX_PASTE_TOKENS + 1,
        )
    ]


def test_rejection_shortens_huge_tokens():
    parsed = parse_domain_list("x" * 5000)

    assert len(parsed.rejected[0].token) == 80
    assert parsed.rejected[0].token.endswith("…")


def test_chunked_splits_into_batches_of_fifty():
    domains = [f"d{i}.com" for i in range(120)]

    batches = list(chunked(domains))

    assert [len(batch) for batch in batches] == [50, 50, 20]
    assert [d for batch in batches for d in batch] == domains


def test_chunked_refuses_a_zero_size():
    with pytest.raises(ValueError, match="at least 1"):
        list(chunked(["a.com"], 0))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalise_domain_is_idempotent_and_never_raises(text):
    once = normalise_domain(text)

    assert normalise_domain(once) == once
    domain_problem(text)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("aZ0-.·ü。 ,;\t\n@:/ß\u00ad_") | st.characters(),
        max_size=120,
    )
)
def test_parse_domain_list_never_raises_and_explains_every_rejection(text):
    parsed = parse_domain_list(text, NEW_DOMAINS)

    line_count = max(1, len(text.splitlines()))
    for rejection in parsed.rejected:
        assert 1 <= rejection.line <= line_count
        assert rejection.position >= 1
        assert rejection.token
        assert rejection.reason
        assert rejection.message.startswith(
            f"Line {rejection.line}, item {rejection.position}"
        )
    assert len(parsed.domains) == len(set(parsed.domains))
    for domain in parsed.domains:
        assert domain_is_valid(domain)
        assert normalise_domain(domain) == domain
        assert NEW_DOMAINS.problem(domain) is None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(valid_domains, min_size=1, max_size=30),
    st.lists(
        st.sampled_from(["\n", ",", ";", "\t", " ", ", ", "\r\n"]),
        min_size=30,
        max_size=30,
    ),
    st.booleans(),
)
def test_parse_domain_list_reads_back_any_valid_list(domains, separators, shout):
    text = "".join(
        (domain.upper() if shout else domain) + separator
        for domain, separator in zip(domains, separators, strict=False)
    )

    parsed = parse_domain_list(text)

    assert parsed.rejected == []
    assert parsed.domains == list(dict.fromkeys(domains))
    assert parsed.duplicates == list(
        dict.fromkeys(d for i, d in enumerate(domains) if d in domains[:i])
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(), max_size=200), st.integers(min_value=1, max_value=60))
def test_chunked_preserves_order_and_bounds_batches(items, size):
    batches = list(chunked(items, size))

    assert [x for batch in batches for x in batch] == items
    assert all(1 <= len(batch) <= size for batch in batches)
