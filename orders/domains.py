"""Domain names: the syntax rule for one name, and the parser for a pasted list of them.

Pure Python (no Django), so the order builder, forms and `orders.rules` can all use it.
Names are normalised to what Instantly is sent: lower case, no trailing dot, and
internationalised names as their ASCII "xn--" form. Python's `idna` codec implements
IDNA 2003, so a few characters are mapped the 2003 way (for example "ß" becomes "ss"); the
simulation still has the final word on whether a name can be bought.
"""

from __future__ import annotations

import contextlib
import encodings.idna
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

T = TypeVar("T")

MAX_DOMAIN_LENGTH: Final = 253
MAX_LABEL_LENGTH: Final = 63
# Instantly's /domains/check accepts at most 50 domains per call.
CHECK_BATCH_SIZE: Final = 50
# A paste is typed or copied by a person; anything bigger is a mistake (a whole file, a log),
# and refusing it early keeps the work per request bounded.
MAX_PASTE_CHARS: Final = 200_000
MAX_PASTE_TOKENS: Final = 5_000
# Longer hosts cannot be valid; cutting them off before the IDNA codec keeps its work small.
_MAX_HOST_CHARS: Final = 4 * MAX_DOMAIN_LENGTH
_SHOWN_TOKEN_CHARS: Final = 80

# IDNA treats these as full stops too (ideographic and full-width dots).
_ALT_DOTS = re.compile("[\u3002\uff0e\uff61]")
_TRAILING_JUNK = re.compile(r"[\s.]+\Z")
_SEPARATORS = re.compile(r"[,;\s]+")
_URL_END = re.compile(r"[/?#\\]")
_PORT = re.compile(r":\d*\Z")
_LABEL_CHARS = re.compile(r"[a-z0-9-]+\Z")
_TLD = re.compile(r"[a-z]{2,63}\Z")
_WRAPPERS = "\"'`<>()[]{}"


@dataclass(frozen=True)
class TldPolicy:
    """Which top-level domains an order type accepts; the tables live in `orders.rules`."""

    tlds: frozenset[str]
    purpose: str  # completes "unsupported top-level domain .net for …"

    def describe(self) -> str:
        names = [f".{tld}" for tld in sorted(self.tlds, key=_tld_order)]
        if len(names) <= 1:
            return "".join(names)
        return ", ".join(names[:-1]) + " or " + names[-1]

    def problem(self, domain: str) -> tuple[str, str] | None:
        """(code, reason) when a valid, normalised `domain` is not sellable here, else None.

        Codes: "unsupported_tld", "subdomain". Every TLD Instantly sells is a single-label
        public suffix, so a sellable domain has exactly two labels; a longer name is a host
        on a domain.
        """
        labels = domain.split(".")
        tld = labels[-1]
        if tld not in self.tlds:
            reason = f"unsupported top-level domain .{tld} for {self.purpose} (use {self.describe()})"
            return "unsupported_tld", reason
        if len(labels) > 2:
            whole = ".".join(labels[-2:])
            return (
                "subdomain",
                f"{domain} is a sub-domain; {self.purpose} are whole domains such as {whole}",
            )
        return None


def _tld_order(tld: str) -> tuple[int, str]:
    # .com first, then .org, then the rest alphabetically: the order people expect to read.
    preferred = {"com": 0, "org": 1}
    return (preferred.get(tld, 2), tld)


def _normalise_once(name: str) -> str:
    text = _ALT_DOTS.sub(".", name).strip()
    text = _TRAILING_JUNK.sub("", text).lower()
    if text and not text.isascii():
        # On failure the name stays as typed, and domain_problem() says what is wrong with it.
        with contextlib.suppress(UnicodeError):
            text = text.encode("idna").decode("ascii")
    return text


def normalise_domain(name: str) -> str:
    """Return `name` in the form Instantly is sent. Never raises; idempotent.

    Strips surrounding whitespace and trailing dots, lower-cases, and converts a valid
    internationalised name to its A-label ("bücher.com" → "xn--bcher-kva.com"). A name that
    cannot be converted is returned lower-cased so that `domain_problem` can explain it.
    """
    # IDNA mapping can expose a new trailing dot ("a.\u00ad" → "a."), so repeat to a fixed point.
    text = name
    for _ in range(4):
        again = _normalise_once(text)
        if again == text:
            break
        text = again
    return text


def _label_problem(label: str, *, is_tld: bool) -> str | None:
    if not label:
        return "empty label (two dots in a row, or a leading dot)"
    if len(label) > MAX_LABEL_LENGTH:
        return f"label longer than {MAX_LABEL_LENGTH} characters"
    if not label.isascii():
        # Only reached when the IDNA codec refused the name; find out why for this label.
        try:
            encodings.idna.ToASCII(label)
        except UnicodeError as error:
            if "too long" in str(error):
                return f"label '{shorten(label)}' is longer than {MAX_LABEL_LENGTH} characters once encoded"
            return f"'{shorten(label)}' is not a valid internationalised label"
        return None
    if not _LABEL_CHARS.match(label):
        bad = next(
            ch for ch in label if not (ch.isascii() and (ch.isalnum() or ch == "-"))
        )
        if bad.isspace():
            return "contains a space"
        return f"contains {show_char(bad)}, which is not allowed in a domain name"
    if label[0] == "-" or label[-1] == "-":
        return f"label '{label}' starts or ends with a hyphen"
    if label.startswith("xn--"):
        try:
            encodings.idna.ToUnicode(label)
        except UnicodeError:
            return f"'{label}' is not a valid internationalised (xn--) label"
    elif label[2:4] == "--":
        return f"label '{label}' has '--' in the third and fourth positions, which is reserved"
    if is_tld and not label.startswith("xn--") and not _TLD.match(label):
        return f"'.{label}' is not a valid top-level domain"
    return None


def domain_problem(name: str) -> str | None:
    """Why `normalise_domain(name)` is not a syntactically valid domain name, or None.

    Syntax only: a valid name may still be unsellable (TLD policy, availability, trademarks).
    """
    domain = normalise_domain(name)
    if not domain:
        return "empty"
    if len(domain) > MAX_DOMAIN_LENGTH:
        return f"longer than {MAX_DOMAIN_LENGTH} characters"
    labels = domain.split(".")
    if len(labels) < 2:
        return "not a domain"
    for position, label in enumerate(labels, start=1):
        problem = _label_problem(label, is_tld=position == len(labels))
        if problem:
            return problem
    if not domain.isascii():
        return "not a valid internationalised domain name"
    return None


def domain_is_valid(name: str) -> bool:
    """True when `normalise_domain(name)` is a syntactically valid domain name."""
    return domain_problem(name) is None


@dataclass(frozen=True)
class Rejection:
    """One pasted item that was not taken. `line` and `position` are 1-based."""

    line: int
    token: str  # as pasted, shortened for display
    reason: str
    position: int = 0  # the item's number among all pasted items; 0 for the whole paste

    @property
    def message(self) -> str:
        where = f"Line {self.line}" + (
            f", item {self.position}" if self.position else ""
        )
        return (
            f"{where} '{self.token}': {self.reason}"
            if self.token
            else f"{where}: {self.reason}"
        )


@dataclass(frozen=True)
class ParsedDomains:
    # Normalised, in first-seen order, without repeats.
    domains: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # each repeated domain once
    truncated: bool = False  # the paste had more than MAX_PASTE_TOKENS items

    @property
    def ok(self) -> bool:
        return not self.rejected


def host_of(token: str) -> str:
    """The host name inside a pasted item: a bare name, a URL or an e-mail address.

    "https://www.Acme.com:443/path" → "Acme.com", "jane@acme.com" → "acme.com" (a list of
    mailboxes is pasted to mean their domains). A leading "www." is dropped because it names
    a web server on the domain, never the domain one buys. Not normalised yet.
    """
    text = _ALT_DOTS.sub(".", token).strip(_WRAPPERS)
    if "://" in text:
        text = _URL_END.split(text.split("://", 1)[1], maxsplit=1)[0]
        text = text.rsplit("@", 1)[-1]  # user:password@host
    elif "@" in text:
        text = text.rsplit("@", 1)[1]  # also covers "mailto:jane@acme.com"
    text = _URL_END.split(text, maxsplit=1)[0]
    text = _PORT.sub("", text.strip(_WRAPPERS))
    if text.lower().startswith("www.") and text.count(".") >= 2:
        text = text[4:]
    return text


def parse_domain_list(text: str, tld_policy: TldPolicy | None = None) -> ParsedDomains:
    """Parse a pasted list of domains. Never raises.

    Items may be separated by new lines, commas, semicolons, tabs or spaces. Each item is
    reduced to its host (see `host_of`), normalised and checked; with `tld_policy` it must
    also be sellable under that policy. Repeats are dropped (first one kept) and listed in
    `duplicates`. A paste over MAX_PASTE_CHARS is refused whole; after MAX_PASTE_TOKENS
    items the rest is ignored with one rejection saying so.
    """
    if len(text) > MAX_PASTE_CHARS:
        reason = (
            f"the pasted text has {len(text):,} characters; paste at most {MAX_PASTE_CHARS:,} "
            "at a time"
        )
        return ParsedDomains(rejected=[Rejection(line=1, token="", reason=reason)])
    domains: list[str] = []
    seen: set[str] = set()
    rejected: list[Rejection] = []
    duplicates: list[str] = []
    position = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        for token in _SEPARATORS.split(line):
            if not token:
                continue
            position += 1
            if position > MAX_PASTE_TOKENS:
                reason = f"only the first {MAX_PASTE_TOKENS:,} items were read; paste the rest separately"
                rejected.append(
                    Rejection(line_number, shorten(token), reason, position)
                )
                return ParsedDomains(domains, rejected, duplicates, truncated=True)
            domain, reason = _read_token(token, tld_policy)
            if reason:
                rejected.append(
                    Rejection(line_number, shorten(token), reason, position)
                )
            elif domain in seen:
                if domain not in duplicates:
                    duplicates.append(domain)
            else:
                seen.add(domain)
                domains.append(domain)
    return ParsedDomains(domains, rejected, duplicates)


def _read_token(token: str, tld_policy: TldPolicy | None) -> tuple[str, str]:
    """(normalised domain, "") or ("", reason)."""
    host = host_of(token)
    if len(host) > _MAX_HOST_CHARS:
        return "", f"longer than {MAX_DOMAIN_LENGTH} characters"
    domain = normalise_domain(host)
    if "." not in domain:
        return "", "not a domain"
    problem = domain_problem(domain)
    if problem:
        return "", problem
    if tld_policy is not None:
        refusal = tld_policy.problem(domain)
        if refusal:
            return "", refusal[1]
    return domain, ""


def chunked(items: Sequence[T], size: int = CHECK_BATCH_SIZE) -> Iterator[list[T]]:
    """Consecutive slices of at most `size` items, for the batched availability check.

    Raises ValueError when `size` is below 1 (a programming error, not user input).
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def shorten(value: str, limit: int = _SHOWN_TOKEN_CHARS) -> str:
    """`value` made short and printable enough to quote back in a message."""
    shown = "".join(ch if ch.isprintable() else "\ufffd" for ch in value[: limit + 1])
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def show_char(ch: str) -> str:
    """One character named for a message, including the invisible ones."""
    return f"'{ch}'" if ch.isprintable() else f"the invisible character U+{ord(ch):04X}"
