"""Fuzzing every route (issue 12): arbitrary text — NUL, lone surrogates, 10 000 characters,
huge integers — in every form field, query parameter, path segment and JSON field of every
route of app.url_map, as each role that can reach it, on SQLite and on PostgreSQL: never a 500.

Field names come from the rendered pages (every <form> a crawl of each role reaches, with its
action and fields) and, for routes no page links, from every FlaskForm class of the app. The
fuzz app switches CSRF off and puts the rate limits out of reach, explicitly (both have their
own tests), so that every example reaches the form and the view behind it. Each target gets a fixed pass of the nasty
values in all its fields at once, then a few Hypothesis examples of one field at a time with
the others plausible, so the run stays short (CI has 2 cores) while covering every route.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

from tests import factories
from tests.route_walk import ARG, ROLES, build_world, crawl, login, matching, routes
from webapp.api.keys import create_key
from webapp.audit.services import Actor
from webapp.extensions import db, limiter

EXAMPLES = 3  # Hypothesis examples per (route, method, role); the fixed pass comes on top
NASTY = ["\x00", "a\x00b", "\ud800", "\udfff x", "x" * 10_000, "9" * 30, "-9" * 20,
         str(2**63), "1e309", "NaN", "", " ", "<script>alert(1)</script>", "../../etc/passwd",
         "%00", "１２３", "😀" * 50]
FUZZ = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(lambda ch, n: ch * n, st.characters(codec=None, exclude_categories=()),
              st.integers(min_value=1000, max_value=10_000)),
)
# The fixed pass: every field of a target at once (NUL, a lone surrogate, 10 k characters, a
# 64-bit overflow); then EXAMPLES Hypothesis draws from FUZZ, one field at a time.
FIXED = ["a\x00b", "x" * 10_000, "\ud800", "9" * 30]
PLAUSIBLE = {"password": factories.PASSWORD, "amount": "12.00", "items": "布洛芬 1盒",
             "decision": "approve", "relation": "child", "month": "2026-11"}


def raw(text: str) -> bytes:
    """What a hostile client can put on the wire for ``text`` (surrogates as their bytes)."""
    return text.encode("utf-8", "surrogatepass")


class Forms(HTMLParser):
    """The forms of a page: (action, method, {field name: a value the page offers})."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self._open: tuple[str, str, dict[str, str]] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = (a.get("action", ""), a.get("method", "get").lower(), {})
            self.forms.append(self._open)
        elif tag in ("input", "textarea", "select") and self._open and a.get("name"):
            fields = self._open[2]
            if a.get("type") in ("checkbox", "radio") and a["name"] in fields:
                return
            fields[a["name"]] = a.get("value", "") or PLAUSIBLE.get(a["name"], "1")
        elif tag == "option" and self._open and self._open[2]:
            last = list(self._open[2])[-1]
            if self._open[2][last] in ("", "1") and a.get("value"):
                self._open[2][last] = a["value"]

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


@dataclass
class Target:
    """One (rule, method) to fuzz: its path, query parameters and form fields."""

    rule: Rule
    method: str
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    path_values: list[str] = field(default_factory=list)


def form_class_fields() -> dict[str, str]:
    """Every field name of every FlaskForm class of the app (with a plausible value)."""
    names: dict[str, str] = {}
    todo = list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        for name in dir(cls):
            if not name.startswith("_") and hasattr(getattr(cls, name, None), "field_class"):
                names.setdefault(name, PLAUSIBLE.get(name, "1"))
    return names


def discover(app, world) -> dict[tuple[str, str], Target]:
    """Every (rule, method) with the fields and parameters the pages show for it."""
    targets: dict[tuple[str, str], Target] = {}
    for rule in routes(app, "GET") + routes(app, "POST"):
        for method in ("GET", "POST"):
            if method in (rule.methods or ()):
                targets[(rule.rule, method)] = Target(rule, method, query={"page": "1"})
    for role in ROLES:
        pages = crawl(app, world.clients[role], "/", limit=120)
        for start in world.starts:
            pages.update(crawl(app, world.clients[role], start, limit=20))
        for url, response in pages.items():
            parts = urlsplit(url)
            rule = matching(app, parts.path)
            if rule is not None and (rule.rule, "GET") in targets:
                target = targets[(rule.rule, "GET")]
                target.query.update(parse_qsl(parts.query))
                target.path_values.append(parts.path)
            if "text/html" not in (response.content_type or ""):
                continue
            parser = Forms()
            parser.feed(response.get_data(as_text=True))
            for action, method, fields in parser.forms:
                action_path = urlsplit(urljoin(url, action or url)).path
                method = "POST" if method == "post" else "GET"
                found = matching(app, action_path, method)
                if found is None or (found.rule, method) not in targets:
                    continue
                target = targets[(found.rule, method)]
                (target.form if method == "POST" else target.query).update(fields)
                target.path_values.append(action_path)
    every_field = form_class_fields()
    for target in targets.values():
        if target.method == "POST" and not target.form:
            target.form = dict(every_field)
    return targets


def concrete_path(target: Target, fuzzed: str | None = None) -> str:
    """A real path for the target (a crawled one when there is one), or the rule's arguments
    filled with ``fuzzed`` (percent-encoded as the hostile client would send it)."""
    if fuzzed is None:
        if target.path_values:
            return target.path_values[0]
        return ARG.sub("x", target.rule.rule)
    return ARG.sub(lambda _m: quote(raw(fuzzed), safe=""), target.rule.rule)


def one_argument_path(target: Target, fuzzed: str) -> str:
    """The crawled path with only its last argument replaced by ``fuzzed`` (so a fuzzed
    /auth/documents/terms/<version> gets past a real kind)."""
    if not target.path_values or ARG.search(target.rule.rule) is None:
        return concrete_path(target, fuzzed)
    real = target.path_values[0].rstrip("/").split("/")
    pattern = target.rule.rule.rstrip("/").split("/")
    last = max(i for i, part in enumerate(pattern) if ARG.fullmatch(part))
    if len(real) != len(pattern):
        return concrete_path(target, fuzzed)
    real[last] = quote(raw(fuzzed), safe="")
    return "/".join(real)


def send(client, target: Target, path: str, query: dict[str, str], form: dict[str, str],
         headers: dict[str, str] | None = None):
    """One request of the target, every value sent as raw bytes."""
    qs = urlencode([(raw(k), raw(v)) for k, v in query.items()])
    kwargs: dict = {"query_string": qs, "headers": headers or {}}
    if target.method == "POST":
        if target.rule.rule.startswith("/api/"):
            kwargs["data"] = json.dumps(form)
            kwargs["content_type"] = "application/json"
        else:
            kwargs["data"] = urlencode([(raw(k), raw(v)) for k, v in form.items()])
            kwargs["content_type"] = "application/x-www-form-urlencoded"
    response = client.open(path, method=target.method, **kwargs)
    response.get_data()
    response.close()
    return response


def roles_for(client_of, target: Target, headers: dict[str, str]) -> list[str]:
    """The roles the target answers to (not sent to the login page, not refused)."""
    reached = []
    for role in ROLES:
        try:
            response = send(client_of(role), target, concrete_path(target), {}, {}, headers)
        except Exception:  # found again (and reported) by the fuzzing itself
            db.session.rollback()
            reached.append(role)
            continue
        location = response.headers.get("Location", "")
        if response.status_code in (401, 403) or "/auth/login" in location:
            continue
        reached.append(role)
    return reached or ["anonymous"]


def one_field_at_a_time(target: Target, check):
    """Hypothesis examples for the target: one field, parameter or path argument fuzzed, the
    others left plausible (so the value gets past the fields checked before it)."""
    names = [("q", k) for k in target.query] + [("f", k) for k in target.form]
    names += [("p", "")] if "<" in target.rule.rule else []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(choice=st.sampled_from(names), value=FUZZ)
    def fuzz(choice, value):
        kind, name = choice
        query, form = dict(target.query), dict(target.form)
        path = concrete_path(target)
        if kind == "q":
            query[name] = value
        elif kind == "f":
            form[name] = value
        else:
            path = concrete_path(target, value)
        check(path, query, form)

    return fuzz


FUZZ_CONFIG = {
    # Explicitly: no CSRF token needed (CSRF has its own tests), and the login throttle out of
    # reach (RATELIMIT_ENABLED=False would leave the shared Limiter without storage for later
    # tests; its counters are reset before every target instead).
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_LOGIN": "100000 per minute",
    "RATELIMIT_LOGIN_PHONE": "100000 per minute",
}


def test_no_route_answers_500_to_arbitrary_text(app):
    app.config.update(FUZZ_CONFIG)
    world = build_world(app)
    _key, api_key = create_key(world.users["pharmacy"].pharmacy.code, "fuzz", Actor(label="t"))

    def client_of(role: str):
        return world.clients[role]

    def ensure_logged_in() -> None:
        """Log back in whoever a fuzzed request logged out."""
        for role, user in world.users.items():
            if world.clients[role].get("/auth/me").status_code != 200:
                login(world.clients[role], user)

    targets = discover(app, world)
    covered: set[tuple[str, str]] = set()
    failures: list[str] = []
    # Logging out and changing the password end the session: fuzz them last; closing the
    # account (注销账户) ends it for good: the very last.
    order = sorted(targets.values(), key=lambda t: (t.rule.endpoint == "auth.close_account",
                                                    t.rule.endpoint in (
        "auth.logout", "auth.change_password")))
    for target in order:
        limiter.reset()
        headers = {"X-API-Key": api_key} if target.rule.rule.startswith("/api/") else {}
        for role in roles_for(client_of, target, headers):
            client = client_of(role)

            def check(path, query, form, _target=target, _client=client, _role=role,
                      _headers=headers):
                where = f"{_role} {_target.method} {path[:80]} q={query!r:.150} f={form!r:.150}"
                try:
                    response = send(_client, _target, path, query, form, _headers)
                except Exception as err:  # the testing app re-raises what would be a 500
                    frames = traceback.extract_tb(err.__traceback__)
                    frame = next((f for f in reversed(frames) if "/webapp/" in f.filename),
                                 frames[-1])
                    failures.append(f"{where} → {type(err).__name__}: {str(err)[:200]} "
                                    f"at {frame.filename}:{frame.lineno}")
                    db.session.rollback()
                    return
                if response.status_code >= 500:
                    failures.append(f"{where} → {response.status_code}")

            for nasty in FIXED:
                check(concrete_path(target), {k: nasty for k in target.query},
                      {k: nasty for k in target.form})
            if "<" in target.rule.rule:
                for nasty in FIXED[:2]:
                    check(concrete_path(target, nasty), dict(target.query), dict(target.form))
                    check(one_argument_path(target, nasty), dict(target.query),
                          dict(target.form))
            one_field_at_a_time(target, check)()
            covered.add((target.rule.rule, target.method))
        if target.rule.endpoint != "auth.close_account":
            ensure_logged_in()
    print(f"fuzzed {len(covered)} (route, method) targets, {len(failures)} failures")
    assert not failures, "\n".join(failures[:30])
    assert covered == set(targets), set(targets) - covered
