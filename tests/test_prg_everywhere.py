"""Issue 11 item 8, for every form of the app: a POST never answers with a page of its own.

Every rule of app.url_map that accepts POST (the JSON endpoints below excepted, each with its
reason) is posted an empty form — invalid for every form that asks for something — by a user
allowed to use it, on a real object (a path taken from a form a crawled page shows, or one of
the rows this test adds). The answer must be a redirect (302/303: POST/redirect/GET, so that
browser back or reload never asks "Confirm Form Resubmission") or JSON. A new POST route that
renders HTML makes this test fail, because the routes come from the url_map, not from a list.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from tests import factories
from tests.helpers import binding
from tests.lifecycle_factories import invited
from tests.route_walk import build_world, crawl, fill, login, matching, routes
from tests.test_aid_rules import add, open_group
from tests.test_fuzz import Forms
from webapp.blueprints.face import SESSION_KEY
from webapp.extensions import db
from webapp.face import services as face

# POST endpoints that are not forms: they answer JSON to a script or an API client.
EXEMPT = {
    "api.*": "the POS API (JSON in and out, API-key auth; tests/test_api.py)",
    "codes.refresh": "the 医保码 page's script refreshing its code (JSON)",
    "codes.status": "the 医保码 page's script polling the code's state (JSON)",
    "family.add_preview": "the wizard's script previewing the typed relative (JSON)",
}
# Who may use a route, by the start of its path (the first match wins; default: insured).
ROLE_BY_PREFIX = [
    ("/auth/register", "anonymous"), ("/auth/login", "anonymous"),
    ("/auth/password/forgot", "anonymous"), ("/pharmacy/", "pharmacy"),
    ("/review/my/", "insured"), ("/review/", "reviewer"),
]
# Routes that end the session or the account go last, so the others still have their user.
LAST = ("auth.close_account", "auth.logout")


def exempt(endpoint: str) -> bool:
    return endpoint in EXEMPT or (endpoint.split(".")[0] + ".*") in EXEMPT


def role_for(rule: str) -> str:
    return next((role for prefix, role in ROLE_BY_PREFIX if rule.startswith(prefix)), "insured")


def form_actions(app, world) -> dict[str, set[str]]:
    """rule → the real paths the crawled pages' POST forms send to."""
    found: dict[str, set[str]] = {}
    for client in world.clients.values():
        for url, response in crawl(app, client, "/", limit=120).items():
            if "text/html" not in (response.content_type or ""):
                continue
            parser = Forms()
            parser.feed(response.get_data(as_text=True))
            for action, method, _fields in parser.forms:
                if method != "post":
                    continue
                path = urlsplit(urljoin(url, action or url)).path
                rule = matching(app, path, "POST")
                if rule is not None:
                    found.setdefault(rule.rule, set()).add(path)
    return found


def window_owner(app) -> tuple[str, object]:
    """共济授权 windows exist only where the region's policy allows them (江苏): an owner there
    with a member, logged in; returns the window route's path and that owner's client."""
    owner = factories.user(name="陈静", age=42, male=False, region="320102")
    open_group(owner)
    member = add(owner.person, factories.person(name="陈小宝", age=5, region="320102")).member
    db.session.commit()
    client = app.test_client()
    login(client, owner)
    return f"/aid/members/{member.public_id}/window", client


def more_rows(world) -> dict[str, str]:
    """Rows the walk's world lacks, for the routes no crawled page links: an invitation to the
    holder, an application waiting for review, a face check the holder's browser began, a
    binding that binds the holder (绑定我的人). Returns rule → a real path."""
    holder = world.users["insured"].person
    child = world.samples["public_id"][0]
    inviter = factories.user(name="王芳", age=40, male=False).person
    _row, inv, _token = invited(inviter, holder, relation="child")
    waiting = binding(holder, factories.person(name="张小刚", age=6), status="pending_review")
    bound_me = binding(factories.user(name="周强", age=45).person, holder, relation="child")
    check = face.begin(holder, "kinship_edit", "/family/")
    member = add(holder, factories.person(name="李秀英", age=66, male=False), "parent").member
    db.session.commit()
    with world.clients["insured"].session_transaction() as session:
        session[SESSION_KEY] = [*session.get(SESSION_KEY, []), check.public_id]
    return {
        "/i/r/<public_id>/accept": f"/i/r/{inv.public_id}/accept",
        "/i/r/<public_id>/confirm": f"/i/r/{inv.public_id}/confirm",
        "/i/r/<public_id>/decline": f"/i/r/{inv.public_id}/decline",
        "/review/<public_id>/decide": f"/review/{waiting.public_id}/decide",
        "/review/my/<public_id>": f"/review/my/{waiting.public_id}",
        "/face/<public_id>": f"/face/{check.public_id}",
        "/family/bound-me/<public_id>/end": f"/family/bound-me/{bound_me.public_id}/end",
        "/aid/members/<public_id>/resend": f"/aid/members/{member.public_id}/resend",
        # The edit steps and 重新发送 of the bound child (a refusal must redirect too).
        **{f"/family/members/<public_id>/{step}": f"/family/members/{child}/{step}"
           for step in ("edit/confirm", "edit/face", "resend")},
    }


def test_exemptions_name_real_endpoints(app):
    endpoints = {r.endpoint for r in routes(app, "POST")}
    for name in EXEMPT:
        assert (name in endpoints if not name.endswith(".*")
                else any(e.startswith(name[:-1]) for e in endpoints)), name


def post_everything(app) -> tuple[list[str], list[str]]:
    """Post an empty form to every POST route: (routes that answered with a page, routes
    without a real path to post to)."""
    world = build_world(app)
    paths = {rule: sorted(found) for rule, found in form_actions(app, world).items()}
    for rule, path in more_rows(world).items():
        paths.setdefault(rule, []).insert(0, path)
    window_path, window_client = window_owner(app)
    paths["/aid/members/<public_id>/window"] = [window_path]
    todo = [r for r in routes(app, "POST") if not exempt(r.endpoint)]
    todo.sort(key=lambda r: LAST.index(r.endpoint) + 1 if r.endpoint in LAST else 0)
    assert len(todo) > 30  # the url_map, not an empty list
    rendered, unreached = [], []
    for rule in todo:
        candidates = paths.get(rule.rule) or ([] if rule.arguments else [fill(rule)])
        if not candidates:
            unreached.append(rule.rule)
            continue
        client = (window_client if rule.endpoint == "aid.window"
                  else world.clients[role_for(rule.rule)])
        response = client.post(candidates[0], data={})
        kind = response.content_type or ""
        if response.status_code in (302, 303) or kind.startswith("application/json"):
            continue
        rendered.append(f"{rule.rule} ({candidates[0]}) → {response.status_code} {kind}")
    return rendered, unreached


def test_every_post_route_answers_with_a_redirect_or_json(app):
    rendered, unreached = post_everything(app)
    assert rendered == [], "POST answered with a page:\n" + "\n".join(rendered)
    assert unreached == [], f"no real path for these POST routes (add their rows): {unreached}"


def test_a_new_post_route_that_renders_a_page_is_caught(app):
    """The check can fail: a route added to the url_map that renders on POST is reported."""
    app.add_url_rule("/settings/probe", "main.probe", lambda: "<p>已保存</p>",
                     methods=["GET", "POST"])
    rendered, _unreached = post_everything(app)
    assert rendered == ["/settings/probe (/settings/probe) → 200 text/html; charset=utf-8"]
