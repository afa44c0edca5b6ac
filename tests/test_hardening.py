"""Bad input never 500s (NUL, lone surrogates, huge page numbers) and private pages are never
cached (issue 12, items 1, 2 and 9) — on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from tests import factories
from tests.route_walk import ROLES, build_world, crawl, fetch, fill, login, routes
from tests.test_aid_rules import open_group
from webapp.web import MAX_PAGE, page_number

HUGE = "99999999999999999999999"
MESSAGE = "提交的内容包含无法识别的字符"


@pytest.fixture
def insured(app, client):
    """The client logged in as an insured user who owns a 家庭共济 group."""
    user = factories.user(region="360102", balance_fen=10_000)
    open_group(user)
    login(client, user)
    return client


def refused_cleanly(response) -> None:
    """A 400 with the Chinese page (never the database error)."""
    assert response.status_code == 400
    assert MESSAGE in response.get_data(as_text=True)


# ---- 1. NUL bytes and lone surrogates ----------------------------------------------------

@pytest.mark.parametrize("url", [
    "/records/?who=%00", "/family/members/%00", "/code/%00", "/messages/%00",
    "/review/my/%00", "/aid/members/%00", "/records/?who=a%00b", "/messages/?page=%00",
])
def test_nul_in_query_or_path_is_a_clean_400(insured, url):
    refused_cleanly(insured.get(url))


def test_nul_in_login_form_is_a_clean_400(client):
    refused_cleanly(client.post("/auth/login", data={"phone": "\x00", "password": "x"}))
    refused_cleanly(client.post("/auth/login", data={"phone": "13900000000",
                                                     "password": "a\x00"}))


def test_nul_in_a_form_field_name_is_refused(client):
    refused_cleanly(client.post("/auth/login", data={"pho\x00ne": "1"}))


def test_reviewer_audit_search_and_note_with_nul(app, client):
    login(client, factories.staff(role="reviewer"))
    refused_cleanly(client.get("/review/audit?actor=%00"))
    refused_cleanly(client.get("/review/audit?id_number=%00&action=x"))
    refused_cleanly(client.post("/review/x/decide", data={"decision": "reject",
                                                          "note": "原因\x00"}))


def test_pharmacy_items_with_nul(app, client):
    login(client, factories.staff())
    refused_cleanly(client.post("/pharmacy/patient", data={"amount": "1.00",
                                                           "items": "布洛芬\x00"}))
    refused_cleanly(client.post("/pharmacy/", data={"code": "\x00"}))


def test_nul_in_the_user_agent_is_dropped_not_stored(client):
    user = factories.user()
    response = client.post("/auth/login", data={"phone": user.phone,
                                                "password": factories.PASSWORD},
                           headers={"User-Agent": "evil\x00agent"})
    assert response.status_code == 302


@pytest.mark.parametrize("body", [
    '{"code": "\\u0000"}', '{"code": "\\ud800"}', '{"co\\u0000de": "A"}',
    '{"code": "A", "items": [{"name": "\\udfff"}]}',
])
def test_api_json_with_unstorable_text_is_invalid_request(client, body):
    response = client.post("/api/v1/codes/verify", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_request"


def test_json_nested_past_the_parser_stack_is_a_clean_400(insured):
    deep = "[" * 100_000 + "]" * 100_000
    response = insured.post("/code/me/status", data=deep, content_type="application/json",
                            headers={"Accept": "application/json"})
    assert response.status_code == 400


def test_lone_surrogate_in_a_json_page_request(insured):
    response = insured.post("/code/me/status", data=json.dumps({"codes": ["\ud800"]}),
                            content_type="application/json", headers={"Accept": "application/json"})
    assert response.status_code == 400


def test_plain_chinese_text_is_not_refused(insured):
    assert insured.get("/records/?who=张三").status_code != 400


# ---- 2. page numbers ----------------------------------------------------------------------

@pytest.mark.parametrize("raw, page", [
    ("", 1), ("1", 1), ("7", 7), ("0", 1), ("-3", 1), ("abc", 1), ("1e9", 1), ("٣", 1),
    ("00012", 12), (str(MAX_PAGE + 1), MAX_PAGE), (HUGE, MAX_PAGE), ("9" * 18, MAX_PAGE),
    ("9" * 10_000, MAX_PAGE),
])
def test_page_number_is_clamped(raw, page):
    app = Flask(__name__)
    with app.test_request_context("/", query_string={"page": raw}):
        assert page_number() == page


@pytest.mark.parametrize("url", ["/messages/", "/records/", "/aid/spending",
                                 "/review/shown-my-code"])
@pytest.mark.parametrize("page", [HUGE, "9" * 18, "-1", "x"])
def test_huge_page_numbers_on_insured_lists(insured, url, page):
    assert insured.get(f"{url}?page={page}").status_code == 200


@pytest.mark.parametrize("page", [HUGE, "9" * 18])
def test_huge_page_numbers_on_staff_lists(app, page):
    reviewer, staff = app.test_client(), app.test_client()
    login(reviewer, factories.staff(role="reviewer"))
    login(staff, factories.staff())
    assert reviewer.get(f"/review/?page={page}").status_code == 200
    assert reviewer.get(f"/review/?tab=done&page={page}").status_code == 200
    assert reviewer.get(f"/review/audit?page={page}").status_code == 200
    assert staff.get(f"/pharmacy/today?page={page}").status_code == 200


# ---- 9. Cache-Control: no-store on every page with personal data --------------------------

def _private(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_every_get_route_for_every_role_is_no_store(app):
    """Every GET route (arguments from real rows where a page links them, else a dummy), as
    each role: the answer (whatever its status) is never cacheable."""
    world = build_world(app)
    reached: dict[str, set[str]] = {}
    for role in ROLES:
        client = world.clients[role]
        pages = crawl(app, client, "/")
        for url, response in pages.items():
            assert _private(response), f"{role} {url}: {response.headers.get('Cache-Control')}"
            reached.setdefault(role, set()).add(url)
        for rule in routes(app):
            for value in world.samples.get("public_id", []) + ["x"]:
                url = fill(rule, value)
                response = fetch(client, url)
                assert _private(response), f"{role} {url}: {response.status_code}"
    assert any("/family/members/" in url for url in reached["insured"]), "crawl found no binding"
    assert any("/pharmacy/receipts/" in url for url in reached["pharmacy"]), "no receipt reached"


def test_static_files_stay_cacheable(client):
    response = client.get("/static/favicon.svg")
    if response.status_code == 404:
        response = client.get("/static/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_printable_keeps_plain_text_and_drops_control_characters():
    """web.printable (the user agent an audit row keeps): plain text is returned as it is, and
    NUL, other control characters and line breaks are dropped."""
    from webapp.web import printable

    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) MicroMessenger/8.0 微信"
    assert printable(agent) is agent
    assert printable("a\x00b\x07c\r\nd\u2028e") == "abcde"
    assert printable("") == ""
