"""Walking the whole app for the cross-cutting tests (caching, fuzzing): a small world with
every kind of personal data, one logged-in client per role, every route of app.url_map with
its arguments filled from real rows, and a crawler that follows the links pages show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from flask import Flask
from werkzeug.routing import Rule

from tests import factories
from tests.test_aid_rules import open_group
from tests.test_codes import bind, issue
from webapp.audit.services import Actor
from webapp.codes import settlement
from webapp.extensions import db
from webapp.messages import services as messages

ROLES = ("anonymous", "insured", "pharmacy", "reviewer")
# Endpoints the walks leave alone: files served as they are, and the ops endpoints (no
# personal data; they have their own tests).
SKIPPED = {"static", "ops.healthz", "ops.readyz", "ops.metrics"}
HREF = re.compile(r'href="([^"#]+)')
ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@dataclass
class World:
    """The people and rows of the walk, and one client per role (None: anonymous)."""

    users: dict[str, object]
    clients: dict[str, object]
    samples: dict[str, list[str]] = field(default_factory=dict)
    starts: list[str] = field(default_factory=list)  # pages to crawl besides "/"


def login(client, user) -> None:
    """Log in through the real form (whatever the session holds, this is how users get one)."""
    response = client.post("/auth/login", data={"phone": user.phone,
                                                "password": factories.PASSWORD})
    assert response.status_code == 302, f"login failed: {response.status_code}"


def build_world(app: Flask) -> World:
    """A holder bound to a child, a message, a settlement at a pharmacy, a reviewer."""
    holder = factories.user(name="李红", age=38, male=False, balance_fen=50_000, region="360102")
    child = factories.person(name="张小明", age=8, balance_fen=2000)
    binding = bind(holder.person, child, "child")
    open_group(holder)
    messages.send(holder.person, "绑定成功", "您已成功绑定张小明", "kinship")
    pharmacy = factories.pharmacy(name="仁心大药房")
    staff = factories.staff(pharmacy_obj=pharmacy)
    reviewer = factories.staff(role="reviewer", name="审核员小李")
    db.session.commit()
    code = issue(holder).code
    checked = settlement.verify(code, pharmacy, Actor(user=staff))
    settlement.settle(checked.token, pharmacy, Actor(user=staff), 2350, "布洛芬缓释胶囊 1盒")
    starts = new_rows(holder, child, binding)
    users = {"insured": holder, "pharmacy": staff, "reviewer": reviewer}
    clients = {"anonymous": app.test_client()}
    for role, user in users.items():
        clients[role] = app.test_client()
        login(clients[role], user)
    # A face attempt this session began (its page is reached by a POST only).
    started = clients["insured"].post(f"/family/members/{binding.public_id}/edit/face")
    starts.append(urlsplit(started.headers.get("Location", "/")).path)
    starts.append(wizard_at_material(clients["insured"], holder))
    return World(users=users, clients=clients, starts=starts,
                 samples={"public_id": [binding.public_id], "subject": [binding.public_id]})


def wizard_at_material(client, holder) -> str:
    """The add-member wizard of the insured client brought to its material step (a draft of
    pages to fuzz); its path."""
    from tests import kinship_factories as kf

    kf.face_pass(holder.person)
    kid = factories.person(name="李小华", age=6)
    client.post("/family/add/notice", data={"agree": "y"})
    client.post("/family/add/info", data={"name": kid.name, "id_number": kid.id_number,
                                          "relation": "child"})
    return "/family/add/material"


def new_rows(holder, child, binding) -> list[str]:
    """Rows for the routes no link of "/" reaches: a 共济 member each way (their 授权记录), a
    material on file, an earlier document version; the extra pages the crawl starts from."""
    from tests import kinship_factories as kf
    from tests.test_aid_rules import accept, add
    from webapp.accounts import documents

    member = add(holder.person, child, "child").member
    elder = factories.user(name="王建国", age=66, region="360102")
    open_group(elder)
    joined = accept(add(elder.person, holder.person, "child").member, holder)
    binding.material_id = kf.material(holder.person, "birth_cert").id
    kf.face_pass(holder.person, "kinship_edit", count=3)  # 编辑 shows its form
    db.session.commit()
    terms = documents.document("terms")
    return [f"/aid/members/{member.public_id}/history", f"/aid/members/{member.public_id}",
            f"/aid/joined/{joined.public_id}/history",
            f"/family/materials/{binding.material.public_id}",
            f"/auth/documents/terms/{terms.version}"]


def routes(app: Flask, method: str = "GET") -> list[Rule]:
    """Every rule of the app answering ``method`` (the skipped endpoints left out)."""
    return sorted((r for r in app.url_map.iter_rules()
                   if method in (r.methods or ()) and r.endpoint not in SKIPPED),
                  key=lambda r: r.rule)


def fill(rule: Rule, value: str = "x") -> str:
    """The rule's path with every argument set to ``value``."""
    return ARG.sub(lambda _m: value, rule.rule)


def matching(app: Flask, url: str, method: str = "GET") -> Rule | None:
    """The rule a site-relative URL reaches with ``method`` (None: not one of the app's)."""
    adapter = app.url_map.bind("localhost")
    try:
        rule, _args = adapter.match(urlsplit(url).path, method=method, return_rule=True)
    except Exception:
        return None
    return rule


def fetch(client, url: str):
    """GET ``url`` and read the whole answer (a streamed one is closed in its own context)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def crawl(app: Flask, client, start: str = "/", limit: int = 150) -> dict[str, object]:
    """GET every site-relative link reachable from ``start`` (at most ``limit`` pages):
    URL → response. Links that leave the site or reach a skipped endpoint are not followed."""
    seen: dict[str, object] = {}
    queue = [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = fetch(client, url)
        seen[url] = response
        if response.status_code in (301, 302, 303):
            queue.append(urljoin(url, response.headers["Location"]))
            continue
        if "text/html" not in (response.content_type or ""):
            continue
        for href in HREF.findall(response.get_data(as_text=True)):
            target = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc and parts.netloc != "localhost":
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            rule = matching(app, local)
            if rule is not None and rule.endpoint not in SKIPPED and local not in seen:
                queue.append(local)
    return seen
