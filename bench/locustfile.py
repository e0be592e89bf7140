"""The simulated operators of bench/load.py, for locust: `locust -f bench/locustfile.py` with
DFY_LOAD_PLAN naming the plan that bench/load.py wrote (sessions, drafts, where results go).

Each operator opens the builder of its own draft as a browser does, then loops: types a new
value into one mailbox name and autosaves the way the page's htmx does (the whole form with
the version it holds, htmx's headers; the answer's out-of-band version is the next one to
send), now and then reopens the builder (asking for the quote when the page would) and browses
the order history. A request fails when the answer is not what the page needs: an error
status, a whole builder instead of the autosave's fragments (a conflict or a refused save), or
a quote panel saying why there is no price. When the run stops, every operator's last
acknowledged value (and anything sent after it whose answer never came) and the autosave
times are written where the plan says.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

AUTOSAVE, QUOTE, BUILDER, HISTORY = "autosave", "quote", "builder", "history"
# What htmx sends with `hx-include="closest form"`: named controls, never a button.
_NOT_SENT = frozenset({"submit", "button", "reset", "image", "file"})
_CSRF = re.compile(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'")
_VERSION = re.compile(r'id="draft-version" value="(\d+)"')
_QUOTE_PROBLEM = re.compile(r'<p class="quote-problem[^"]*">([^<]*)</p>')


class FormFields(HTMLParser):
    """The successful controls of one form (by id), in document order, as a browser posts
    them: checked radios and checkboxes only, a select's selected option (else its first)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.fields: list[tuple[str, str]] = []
        self._inside = False
        self._select: tuple[str, str | None] | None = None  # (name, chosen value)
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._inside = a.get("id") == self.form_id
        name = a.get("name")
        if not self._inside:
            return
        if tag == "input" and name and a.get("type", "text") not in _NOT_SENT:
            if a.get("type") not in {"radio", "checkbox"} or "checked" in a:
                self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select = (name, None)
        elif tag == "option" and self._select is not None:
            select_name, chosen = self._select
            if chosen is None or "selected" in a:
                self._select = (select_name, a.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = (name, [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select" and self._select is not None:
            self.fields.append((self._select[0], self._select[1] or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # A browser drops the one newline that may follow <textarea>.
            text = "".join(self._textarea[1]).removeprefix("\n")
            self.fields.append((self._textarea[0], text))
            self._textarea = None


def form_fields(html: str, form_id: str = "builder") -> list[tuple[str, str]]:
    parser = FormFields(form_id)
    parser.feed(html)
    parser.close()
    return parser.fields


def with_value(
    fields: list[tuple[str, str]], name: str, value: str
) -> list[tuple[str, str]]:
    if name not in {n for n, _ in fields}:
        raise KeyError(f"the builder has no field {name}")
    return [(n, value if n == name else v) for n, v in fields]


def answer(response: Any) -> str:
    """How a failed request was answered, for locust's failure list."""
    if response.status_code == 0:  # no HTTP answer at all: locust keeps the exception
        return f"no answer: {response.error!r}"[:200]
    return f"answered {response.status_code}"


def quote_problem(html: str) -> str:
    """What the quote panel says instead of a price, or ""."""
    found = _QUOTE_PROBLEM.search(html)
    return found.group(1).strip() if found else ""


if __name__ == "locustfile":
    # Only under locust (which loads this file under that name): `python -m bench` imports
    # every module of bench/ to find benchmarks, and importing locust patches a process with
    # gevent.
    from locust import HttpUser, between, events, task
    from locust.env import Environment

    PLAN: dict[str, Any] = json.loads(Path(os.environ["DFY_LOAD_PLAN"]).read_text())
    _seats = itertools.count()
    # Per order id: the last value an autosave acknowledged, and values sent after it whose
    # answer never came (the server may or may not have saved them).
    OUTCOMES: dict[str, dict[str, Any]] = {}
    AUTOSAVE_MS: list[float] = []

    def _autosave_time(
        name: str, response_time: float, exception: Any, **_: Any
    ) -> None:
        if name == AUTOSAVE and exception is None:
            AUTOSAVE_MS.append(response_time)

    def _write_results(environment: Environment, **_: Any) -> None:
        stats = environment.stats
        failures = [
            {"name": e.name, "error": str(e.error), "count": e.occurrences}
            for e in stats.errors.values()
        ]
        Path(PLAN["results"]).write_text(
            json.dumps(
                {
                    "requests": stats.total.num_requests,
                    "failures": failures,
                    "outcomes": OUTCOMES,
                    "autosave_ms": AUTOSAVE_MS,
                }
            )
        )

    # locust's EventHook is not typed.
    events.request.add_listener(_autosave_time)  # type: ignore[no-untyped-call]
    events.quitting.add_listener(_write_results)  # type: ignore[no-untyped-call]

    class Operator(HttpUser):
        # An operator pauses between actions (htmx autosaves 0.7 s after the last keystroke).
        wait_time = between(1, 3)

        def on_start(self) -> None:
            seat = PLAN["operators"][next(_seats) % len(PLAN["operators"])]
            self.seat = seat
            self.edits = 0
            self.fields: list[tuple[str, str]] = []
            self.csrf = ""
            self.outcome = OUTCOMES.setdefault(
                str(seat["order"]), {"acked": seat["initial"], "unacked": []}
            )
            self.client.cookies.set(
                PLAN["session_cookie"], seat["session"], domain="127.0.0.1", path="/"
            )
            self.client.headers.update(
                {"X-Forwarded-Proto": "https", "Origin": PLAN["origin"]}
            )
            self.open_builder()

        def call(self, method: str, url: str, name: str, **options: Any) -> Any:
            """A request whose answer the caller judges (`catch_response`)."""
            # The portal runs as deployed, behind a proxy that ended TLS, so its cookies are
            # Secure; this client talks plain HTTP on loopback and must send them all the same.
            for cookie in self.client.cookies:
                cookie.secure = False
            return self.client.request(
                method,
                url,
                name=name,
                allow_redirects=False,
                catch_response=True,
                **options,
            )

        def htmx(self, trigger: str, target: str) -> dict[str, str]:
            return {
                "HX-Request": "true",
                "HX-Trigger": trigger,
                "HX-Target": target,
                "HX-Current-URL": PLAN["origin"] + self.seat["build"],
                "X-CSRFToken": self.csrf,
            }

        @task(1)
        def open_builder(self) -> None:
            with self.call("GET", self.seat["build"], BUILDER) as response:
                token = _CSRF.search(response.text)
                if response.status_code != 200 or token is None:
                    response.failure(f"builder page: {answer(response)}")
                    return
                self.csrf = token.group(1)
                self.fields = form_fields(response.text)
            if 'id="quote-loading"' in response.text:
                self.quote()

        def quote(self) -> None:
            with self.call(
                "POST",
                self.seat["quote"],
                QUOTE,
                headers=self.htmx("quote-loading", "quote-panel"),
            ) as response:
                problem = quote_problem(response.text)
                if response.status_code != 200 or problem:
                    response.failure(problem or answer(response))

        @task(6)
        def autosave(self) -> None:
            if not self.fields:
                self.open_builder()
                return
            self.edits += 1
            value = f"{self.seat['initial']} {self.edits}"
            sent = with_value(self.fields, self.seat["field"], value)
            self.outcome["unacked"].append(value)
            with self.call(
                "POST",
                self.seat["build"],
                AUTOSAVE,
                data=sent,
                headers=self.htmx("autosave", "autosave"),
            ) as response:
                version = _VERSION.search(response.text)
                if (
                    response.status_code != 200
                    or "HX-Retarget" in response.headers
                    or version is None
                ):
                    # The page would show the whole builder: read it afresh next time.
                    self.fields = []
                    retarget = response.headers.get("HX-Retarget", "")
                    response.failure(
                        f"not saved: {answer(response)} {retarget}".strip()
                    )
                    return
                self.outcome.update(acked=value, unacked=[])
                self.fields = with_value(sent, "version", version.group(1))
                if problem := quote_problem(response.text):
                    response.failure(f"saved, but no quote: {problem}")

        @task(2)
        def history(self) -> None:
            query = random.choice(PLAN["history_queries"])  # noqa: S311 (not security)
            with self.call("GET", self.seat["history"] + query, HISTORY) as response:
                if response.status_code != 200:
                    response.failure(answer(response))
