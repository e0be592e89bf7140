"""Domain look-ups: trademark keywords, availability, suggestions and the pre-warmed stock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sandbox.models import PreWarmedDomain, RestrictedKeyword, TakenDomain
from sandbox.rules import DFY_TLDS, REGISTRABLE_DOMAIN, SIMILAR_DOMAINS_PER_TLD

SIMILAR_PREFIXES = (
    "get", "try", "use", "go", "hey", "meet", "join", "with", "hello", "team",
    "the", "my", "mail", "reach", "hi", "ask", "choose", "discover", "inside", "real",
)  # fmt: skip
SIMILAR_SUFFIXES = (
    "hq", "mail", "app", "team", "labs", "group", "online", "now", "hub", "pro",
    "mailer", "inbox", "sends", "reach", "connect", "works", "digital", "direct", "io", "co",
)  # fmt: skip


def normalize(domain: str) -> str:
    return domain.strip().lower()


def restricted_keywords() -> list[str]:
    return list(RestrictedKeyword.objects.values_list("keyword", flat=True))


def keywords_in(domain: str, keywords: Iterable[str]) -> list[str]:
    """The restricted keywords hidden in a domain's name (TLD and hyphens ignored), in order
    of appearance, longest first where two start at the same place."""
    name = domain.rsplit(".", 1)[0].replace("-", "").replace(".", "")
    found = [keyword for keyword in keywords if keyword and keyword in name]
    return sorted(found, key=lambda keyword: (name.index(keyword), -len(keyword)))


def storable(names: Iterable[str]) -> list[str]:
    """The names a database look-up can take: PostgreSQL text cannot hold NUL, and a name
    with one is invalid anyway (the syntax rule reports it), so it can own nothing."""
    return [name for name in names if "\x00" not in name]


def unavailable_domains(domains: Iterable[str]) -> set[str]:
    """Registered somewhere already: the taken registry, or Instantly's own pre-warmed stock."""
    domains = set(storable(domains))
    taken = set(
        TakenDomain.objects.filter(domain__in=domains).values_list("domain", flat=True)
    )
    stock = set(
        PreWarmedDomain.objects.filter(domain__in=domains).values_list(
            "domain", flat=True
        )
    )
    return taken | stock


def check_result(
    domain: str, *, keywords: Sequence[str], unavailable: set[str]
) -> dict[str, object]:
    domain = normalize(domain)
    valid = (
        bool(REGISTRABLE_DOMAIN.match(domain)) and domain.rsplit(".", 1)[-1] in DFY_TLDS
    )
    matched = keywords_in(domain, keywords) if valid else []
    result: dict[str, object] = {
        "domain": domain,
        "available": valid and not matched and domain not in unavailable,
    }
    if matched:
        result["unavailable_reason"] = "restricted"
        result["restricted_keyword"] = matched[0]
    return result


def domains_check(domains: Sequence[str]) -> list[dict[str, object]]:
    keywords = restricted_keywords()
    unavailable = unavailable_domains(normalize(d) for d in domains)
    return [
        check_result(d, keywords=keywords, unavailable=unavailable) for d in domains
    ]


class RestrictedDomain(Exception):
    def __init__(self, keyword: str) -> None:
        super().__init__(keyword)
        self.keyword = keyword


def similar_label(domain: str) -> str:
    """The brand part of what the caller typed: "www.Acme-Mail.com" gives "acme-mail"."""
    labels = [label for label in normalize(domain).split(".") if label]
    label = labels[-2] if len(labels) >= 2 else (labels[0] if labels else "")
    return "".join(
        ch for ch in label if ch.isascii() and (ch.isalnum() or ch == "-")
    ).strip("-")


def domains_similar(domain: str, tlds: Sequence[str]) -> list[str]:
    """Available names close to `domain`, at most 67 per TLD. Raises RestrictedDomain."""
    label = similar_label(domain)
    keywords = restricted_keywords()
    if matched := keywords_in(f"{label}.com", keywords):
        raise RestrictedDomain(matched[0])
    if not label:
        return []
    variants = [f"{p}{label}" for p in SIMILAR_PREFIXES] + [
        f"{label}{s}" for s in SIMILAR_SUFFIXES
    ]
    variants += [f"{p}-{label}" for p in SIMILAR_PREFIXES] + [
        f"{label}-{s}" for s in SIMILAR_SUFFIXES
    ]
    ordered_tlds = list(dict.fromkeys(tlds))
    candidates = [
        f"{variant}.{tld}"
        for tld in ordered_tlds
        for variant in variants
        if REGISTRABLE_DOMAIN.match(f"{variant}.{tld}")
        and not keywords_in(f"{variant}.{tld}", keywords)
    ]
    unavailable = unavailable_domains(candidates)
    per_tld: dict[str, list[str]] = {tld: [] for tld in ordered_tlds}
    for candidate in candidates:
        bucket = per_tld[candidate.rsplit(".", 1)[-1]]
        if candidate not in unavailable and len(bucket) < SIMILAR_DOMAINS_PER_TLD:
            bucket.append(candidate)
    return [candidate for bucket in per_tld.values() for candidate in bucket]


def prewarmed_stock(
    *, extensions: Sequence[str], search: str, empty: bool
) -> list[PreWarmedDomain]:
    """Stock for the list endpoint. Filtered in Python: the stock is small, and a search
    string is then never sent to the database (PostgreSQL refuses NUL characters)."""
    if empty:
        return []
    needle = search.strip().lower()
    return [
        row
        for row in PreWarmedDomain.objects.order_by("domain")
        if row.extension in extensions and needle in row.domain
    ]


_FIRST_NAMES = (
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Drew",
    "Avery",
)
_LAST_NAMES = (
    "Reed",
    "Hale",
    "Stone",
    "Brooks",
    "Lane",
    "Wells",
    "Fox",
    "Hart",
    "Grant",
    "Shaw",
)


def prewarmed_mailboxes(count: int) -> list[tuple[str, str, str]]:
    """The (prefix, first name, last name) of a pre-warmed domain's existing mailboxes:
    deterministic, so a simulation shows exactly what the real order will create."""
    result = []
    for index in range(count):
        first = _FIRST_NAMES[index % len(_FIRST_NAMES)]
        last = _LAST_NAMES[index // len(_FIRST_NAMES) % len(_LAST_NAMES)]
        suffix = str(index // 100) if index >= 100 else ""
        result.append((f"{first}.{last}{suffix}".lower(), first, last))
    return result
