"""POS JSON API: every endpoint and every error code; every answer checked against the
OpenAPI document (so the document describes what the endpoints really do)."""

from __future__ import annotations

from datetime import timedelta

import jsonschema_rs
import pytest
from sqlalchemy import func, select

from tests.test_codes import bind, end, issue
from webapp import clock
from webapp.api.keys import create_key, revoke_key
from webapp.audit.services import SYSTEM
from webapp.blueprints.api.errors import ERRORS, SERVICE_CODES
from webapp.blueprints.api.openapi import build_document
from webapp.codes import settlement as settlement_service
from webapp.codes.msgids import new_msgid
from webapp.extensions import db
from webapp.models import AuditLog, InsuranceCode, LedgerEntry, PersonalAccount, Settlement

VERIFY = "/api/v1/codes/verify"
SETTLE = "/api/v1/settlements"
DOC = build_document()
# Every documented operation (the three of 1101/2102 and the read, and those of issue 10).
OPERATIONS = {(path, method): operation for path, item in DOC["paths"].items()
              for method, operation in item.items()}
assert {(VERIFY, "post"), (SETTLE, "post"), ("/api/v1/settlements/{settlement_id}", "get")} \
    <= set(OPERATIONS)


def conforms(response, template: str, method: str) -> dict:
    """Assert the response is documented for the operation and matches its schema; its JSON."""
    operation = OPERATIONS[(template, method)]
    status = str(response.status_code)
    assert status in operation["responses"], f"{status} undocumented for {method} {template}"
    documented = operation["responses"][status]
    assert response.mimetype == "application/json"
    schema = dict(documented["content"]["application/json"]["schema"])
    schema["components"] = DOC["components"]
    body = response.get_json()
    errors = [e.message for e in jsonschema_rs.Draft4Validator(schema).iter_errors(body)]
    assert not errors, (body, errors)
    for name, header in documented.get("headers", {}).items():
        if header.get("required"):
            assert name in response.headers
    assert response.headers["Cache-Control"] == "private, no-store"
    return body


class Pos:
    """A POS system of one pharmacy: its key and calls that check every answer."""

    def __init__(self, client, pharmacy, raw_key: str):
        self.client, self.pharmacy, self.key = client, pharmacy, raw_key

    def headers(self, key: str | None = "default") -> dict:
        key = self.key if key == "default" else key
        return {} if key is None else {"X-API-Key": key}

    def verify(self, code, key="default", **kw):
        body = {"code": code} if "json" not in kw and "data" not in kw else None
        r = self.client.post(VERIFY, json=kw.pop("json", body), headers=self.headers(key), **kw)
        return r, conforms(r, VERIFY, "post")

    def settle(self, token, amount_fen=2350, items=None, key="default", **extra):
        body = {"msgid": new_msgid(self.pharmacy),
                "settlement_token": token, "business_type": "02121", "amount_fen": amount_fen,
                "items": items if items is not None else
                [{"name": "布洛芬缓释胶囊", "quantity": 1, "amount_fen": amount_fen}]}
        body.update(extra)
        r = self.client.post(SETTLE, json=body, headers=self.headers(key))
        return r, conforms(r, SETTLE, "post")

    def settle_raw(self, body, key="default"):
        """POST the body as given (a fresh msgid added unless the body names one)."""
        if isinstance(body, dict) and "msgid" not in body:
            body = {"msgid": new_msgid(self.pharmacy), **body}
        r = self.client.post(SETTLE, json=body, headers=self.headers(key))
        return r, conforms(r, SETTLE, "post")

    def get(self, settlement_id, key="default"):
        r = self.client.get(f"{SETTLE}/{settlement_id}", headers=self.headers(key))
        return r, conforms(r, "/api/v1/settlements/{settlement_id}", "get")

    def token_for(self, code: str) -> str:
        r, body = self.verify(code)
        assert r.status_code == 200, body
        return body["settlement_token"]


@pytest.fixture
def pos(app, client, factory):
    """仁心大药房 (江西) with an API key."""
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    _, raw = create_key(pharmacy.code, "收银台1", SYSTEM)
    return Pos(client, pharmacy, raw)


@pytest.fixture
def other_pos(app, client, factory):
    """Another pharmacy with its own key."""
    pharmacy = factory.pharmacy(name="别家药房", region="360000")
    _, raw = create_key(pharmacy.code, "收银台", SYSTEM)
    return Pos(client, pharmacy, raw)


def money():
    """Balances, ledger row count, settlement count, used codes: must not move on a refusal."""
    balances = dict(db.session.execute(
        select(PersonalAccount.id, PersonalAccount.balance_fen)).all())
    db.session.rollback()
    return (balances, db.session.scalar(select(func.count(LedgerEntry.id))),
            db.session.scalar(select(func.count(Settlement.id))),
            db.session.scalar(select(func.count(InsuranceCode.id))
                              .where(InsuranceCode.used_at.is_not(None))))


def error_of(body) -> str:
    return body["error"]["code"]


# ---- verify ----------------------------------------------------------------------------------

def test_verify_returns_the_national_fields_masked_and_a_token(pos, factory):
    """The terminal fields: 01, masked ID and name, region, GB/T 2261 gender, birth date, 310."""
    user = factory.user(name="张小明", balance_fen=2000, male=True)
    person = user.person
    r, body = pos.verify(issue(user).code)
    assert r.status_code == 200
    assert body["id_type"] == "01"
    assert body["id_number"] == person.id_number[:4] + "*" * 10 + person.id_number[-4:]
    assert person.id_number not in r.get_data(as_text=True)
    assert (body["name"], body["gender"], body["insured_region"]) == ("张*明", "1", "360000")
    assert body["birth_date"] == person.birth_date.isoformat()
    assert (body["insurance_type"], body["insurance_type_name"]) == ("310", "职工基本医疗保险")
    assert (body["balance_fen"], body["shown_by"], body["shown_by_text"]) == (2000, "self",
                                                                              "本人出示")
    assert body["max_amount_fen"] == 500000
    assert body["settlement_token"] and body["token_expires_at"].endswith("Z")


def test_verify_a_code_shown_by_a_relative_and_a_resident_woman(pos, factory):
    """A mother shows her daughter's (居民医保) code: 390, gender 2, shown_by relative."""
    mother = factory.user(name="李红", age=38, male=False)
    daughter = factory.person(name="张小红", age=8, male=False, insurance_type="resident")
    binding = bind(mother.person, daughter, "child")
    r, body = pos.verify(issue(mother, binding.public_id).code)
    assert r.status_code == 200
    assert (body["gender"], body["insurance_type"], body["balance_fen"]) == ("2", "390", 0)
    assert body["shown_by"] == "relative"
    assert body["shown_by_text"] == "由 李*（母亲）代为出示"


def test_verify_accepts_the_code_as_typed_with_spaces_and_lowercase(pos, factory):
    issued = issue(factory.user())
    r, _ = pos.verify(issued.display.lower())
    assert r.status_code == 200


def test_verify_refusals_map_to_stable_codes(pos, factory):
    """unknown_code 404, expired 410, used 409, binding_ended 409, not_insured 409."""
    user = factory.user(balance_fen=10000)
    assert error_of(pos.verify("NOT-A-REAL-CODE")[1]) == "unknown_code"
    assert pos.verify("A" * 18)[0].status_code == 404

    old = issue(user)
    clock.shift(timedelta(seconds=91))
    r, body = pos.verify(old.code)
    assert (r.status_code, error_of(body)) == (410, "expired")
    clock.reset()

    used = issue(user)
    pos.settle(pos.token_for(used.code))
    r, body = pos.verify(used.code)
    assert (r.status_code, error_of(body)) == (409, "used")

    mother = factory.user(name="李红", age=38, male=False)
    child = factory.person(name="张小明", age=8)
    binding = bind(mother.person, child, "child")
    shown = issue(mother, binding.public_id)
    end(binding)
    r, body = pos.verify(shown.code)
    assert (r.status_code, error_of(body)) == (409, "binding_ended")

    suspended = factory.user(name="王五")
    code = issue(suspended).code
    suspended.person.status = "suspended"
    db.session.commit()
    r, body = pos.verify(code)
    assert (r.status_code, error_of(body)) == (409, "not_insured")
    assert body["error"]["message"] == "该参保人当前未处于参保状态"


@pytest.mark.parametrize("payload", [
    {}, {"code": 123}, {"code": None}, {"code": ""}, {"code": ["A"]}, {"code": "X" * 65},
    {"code": "ABC", "extra": 1}, [], "ABC", 7, None,
])
def test_verify_malformed_bodies_are_invalid_request(pos, payload):
    r, body = pos.verify(None, json=payload)
    assert (r.status_code, error_of(body)) == (400, "invalid_request")


def test_verify_non_json_body_is_invalid_request(pos):
    r, body = pos.verify(None, data="{not json", content_type="application/json")
    assert (r.status_code, error_of(body)) == (400, "invalid_request")
    r, body = pos.verify(None, data="code=ABC", content_type="application/x-www-form-urlencoded")
    assert (r.status_code, error_of(body)) == (400, "invalid_request")


def test_wrong_field_is_named(pos):
    _, body = pos.verify(None, json={"code": 5})
    assert body["error"]["field"] == "code"
    assert body["error"]["message"] == "字段 code 必须是字符串"


# ---- authentication ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", [None, "", "qy_deadbeef_" + "x" * 43, "Bearer abc", "qy_"])
def test_missing_or_bad_key_is_401(pos, factory, key):
    code = issue(factory.user()).code
    r, body = pos.verify(code, key=key)
    assert (r.status_code, error_of(body)) == (401, "unauthorized")
    assert "X-API-Key" in r.headers["WWW-Authenticate"]


def test_right_prefix_wrong_secret_is_401(pos, factory):
    forged = pos.key[:-4] + ("aaaa" if not pos.key.endswith("aaaa") else "bbbb")
    r, body = pos.verify(issue(factory.user()).code, key=forged)
    assert (r.status_code, error_of(body)) == (401, "unauthorized")


def test_revoked_key_is_401_everywhere(pos, factory):
    user = factory.user(balance_fen=5000)
    token = pos.token_for(issue(user).code)
    _, done = pos.settle(token)
    revoke_key(pos.key.split("_")[1], SYSTEM)
    before = money()
    assert error_of(pos.verify(issue(user).code)[1]) == "unauthorized"
    assert pos.settle(token)[0].status_code == 401
    assert pos.get(done["settlement_id"])[0].status_code == 401
    assert money() == before


def test_every_authenticated_request_is_audited_once_and_stamps_last_used(pos, factory):
    """One 'api.key_used' per request (successes and refusals), actor api:<prefix>."""
    from webapp.models import ApiKey

    prefix = pos.key.split("_")[1]
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    assert key.last_used_at is None
    user = factory.user(balance_fen=5000)
    token = pos.token_for(issue(user).code)
    pos.settle(token, amount_fen=0)          # refused: invalid_amount
    _, done = pos.settle(token)               # 201
    pos.get(done["settlement_id"])            # 200
    pos.get("nope")                           # 404
    pos.verify(issue(user).code, key=None)    # 401: not attributable, not audited
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "api.key_used")
                              .order_by(AuditLog.id)).all()
    assert [r.actor_label for r in rows] == [f"api:{prefix}"] * 5
    details = [r.detail for r in rows]
    assert '"error": "invalid_amount"' in details[1] and '"error": "not_found"' in details[4]
    db.session.refresh(key)
    assert key.last_used_at is not None
    verified = db.session.scalar(select(AuditLog).where(AuditLog.action == "code.verified"))
    assert (verified.actor_label, verified.actor_user_id) == (f"api:{prefix}", None)
    row = db.session.scalar(select(Settlement))
    assert (row.actor_label, row.staff_user_id) == (f"api:{prefix}", None)


# ---- settle ----------------------------------------------------------------------------------

def test_settle_splits_own_account_then_self_pay_and_reads_back(pos, factory):
    user = factory.user(name="张小明", balance_fen=2000)
    r, body = pos.settle(pos.token_for(issue(user).code), amount_fen=2350, items=[
        {"name": "布洛芬缓释胶囊", "quantity": 1, "amount_fen": 1850},
        {"name": "维生素C片", "quantity": 2, "amount_fen": 500},
    ])
    assert r.status_code == 201
    assert (body["total_fen"], body["personal_account_fen"], body["aid_fen"],
            body["self_pay_fen"]) == (2350, 2000, 0, 350)
    assert body["business_type"] == "02121"
    assert body["items"] == "布洛芬缓释胶囊×1 ¥18.50；维生素C片×2 ¥5.00"
    assert r.headers["Location"].endswith(f"/api/v1/settlements/{body['settlement_id']}")
    db.session.expire_all()
    assert user.person.account.balance_fen == 0
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "payment"))
    assert (entry.amount_fen, entry.balance_after_fen) == (-2000, 0)
    r, again = pos.get(body["settlement_id"])
    assert r.status_code == 200 and again == body


def test_settle_on_behalf_of_a_relative(pos, factory):
    mother = factory.user(name="李红", age=38, male=False)
    child = factory.person(name="张小明", age=8, balance_fen=3000)
    binding = bind(mother.person, child, "child")
    r, body = pos.settle(pos.token_for(issue(mother, binding.public_id).code), amount_fen=1000)
    assert r.status_code == 201
    assert (body["personal_account_fen"], body["shown_by"]) == (1000, "relative")


def test_settle_refusals_move_no_money(pos, other_pos, factory):
    """token_invalid, another pharmacy's token, token_expired, used, binding_ended, not_insured."""
    user = factory.user(balance_fen=10000)
    before = money()
    r, body = pos.settle("no-such-token")
    assert (r.status_code, error_of(body)) == (400, "token_invalid")

    foreign = other_pos.token_for(issue(user).code)
    before = money()
    r, body = pos.settle(foreign)
    assert (r.status_code, error_of(body)) == (400, "token_invalid")

    stale = pos.token_for(issue(user).code)
    clock.shift(timedelta(seconds=301))
    r, body = pos.settle(stale)
    assert (r.status_code, error_of(body)) == (410, "token_expired")
    clock.reset()
    assert money() == before

    token = pos.token_for(issue(user).code)
    assert pos.settle(token)[0].status_code == 201
    before = money()
    r, body = pos.settle(token)
    assert (r.status_code, error_of(body)) == (409, "used")
    assert money() == before

    mother = factory.user(name="李红", age=38, male=False)
    child = factory.person(name="张小明", age=8, balance_fen=3000)
    binding = bind(mother.person, child, "child")
    token = pos.token_for(issue(mother, binding.public_id).code)
    end(binding)
    before = money()
    r, body = pos.settle(token)
    assert (r.status_code, error_of(body)) == (409, "binding_ended")

    token = pos.token_for(issue(user).code)
    user.person.status = "suspended"
    db.session.commit()
    r, body = pos.settle(token)
    assert (r.status_code, error_of(body)) == (409, "not_insured")
    assert money() == before


def test_settle_without_self_pay_refuses_when_accounts_do_not_cover(pos, factory):
    user = factory.user(balance_fen=1000)
    token = pos.token_for(issue(user).code)
    before = money()
    r, body = pos.settle(token, amount_fen=2350, allow_self_pay=False)
    assert (r.status_code, error_of(body)) == (409, "insufficient")
    assert money() == before
    r, body = pos.settle(token, amount_fen=1000, allow_self_pay=False)
    assert (r.status_code, body["self_pay_fen"]) == (201, 0)


@pytest.mark.parametrize("amount,items", [
    (0, [{"name": "药", "quantity": 1, "amount_fen": 0}]),
    (-100, [{"name": "药", "quantity": 1, "amount_fen": 0}]),
    (500001, [{"name": "药", "quantity": 1, "amount_fen": 500001}]),
    (10 ** 30, [{"name": "药", "quantity": 1, "amount_fen": 10 ** 30}]),
    (2350, [{"name": "药", "quantity": 1, "amount_fen": 2300}]),  # items do not add up
])
def test_invalid_amounts_are_422(pos, factory, amount, items):
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    before = money()
    r, body = pos.settle(token, amount_fen=amount, items=items)
    assert (r.status_code, error_of(body)) == (422, "invalid_amount")
    assert money() == before
    assert pos.settle(token, amount_fen=100)[0].status_code == 201  # the token still works


def test_items_too_long_for_the_receipt_is_422(pos, factory):
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    items = [{"name": "药" * 40, "quantity": 1, "amount_fen": 10} for _ in range(10)]
    r, body = pos.settle(token, amount_fen=100, items=items)
    assert (r.status_code, error_of(body)) == (422, "invalid_items")


def test_unsupported_business_type_is_422(pos, factory):
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    r, body = pos.settle(token, business_type="02111")
    assert (r.status_code, error_of(body)) == (422, "unsupported_business_type")


GOOD = {"settlement_token": "t", "business_type": "02121", "amount_fen": 100,
        "items": [{"name": "药", "quantity": 1, "amount_fen": 100}]}


@pytest.mark.parametrize("change", [
    {"amount_fen": "23.50"}, {"amount_fen": 23.5}, {"amount_fen": 100.0}, {"amount_fen": True},
    {"amount_fen": None}, {"settlement_token": 5}, {"settlement_token": ""},
    {"business_type": 2121}, {"business_type": "2121"}, {"business_type": "0212a"},
    {"items": "布洛芬"}, {"items": []}, {"items": [{"name": "药", "quantity": 1}]},
    {"items": [{"name": "药", "quantity": 0, "amount_fen": 100}]},
    {"items": [{"name": "药", "quantity": "1", "amount_fen": 100}]},
    {"items": [{"name": "   ", "quantity": 1, "amount_fen": 100}]},
    {"items": [{"name": "a\x00b", "quantity": 1, "amount_fen": 100}]},
    {"items": [{"name": "药", "quantity": 1, "amount_fen": -1}]},
    {"items": [{"name": "药", "quantity": 1, "amount_fen": 100, "price": 1}]},
    {"items": ["药"]}, {"allow_self_pay": "no"}, {"unexpected": 1},
])
def test_settle_wrong_types_are_invalid_request(pos, factory, change):
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    body = {**GOOD, "settlement_token": token, **change}
    before = money()
    r, answer = pos.settle_raw(body)
    assert (r.status_code, error_of(answer)) == (400, "invalid_request"), change
    assert money() == before


def test_settle_without_msgid_is_invalid_request_and_moves_nothing(pos, factory):
    """Every settlement carries its message id (2102): none → 400 on the msgid field."""
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    before = money()
    r = pos.client.post(SETTLE, json={**GOOD, "settlement_token": token}, headers=pos.headers())
    answer = conforms(r, SETTLE, "post")
    assert (r.status_code, answer["error"]["code"], answer["error"]["field"]) == \
        (400, "invalid_request", "msgid")
    assert money() == before


@pytest.mark.parametrize("missing", ["settlement_token", "business_type", "amount_fen", "items"])
def test_settle_missing_fields_are_invalid_request(pos, missing):
    body = {k: v for k, v in GOOD.items() if k != missing}
    r, answer = pos.settle_raw(body)
    assert (r.status_code, answer["error"]["field"]) == (400, missing)


# ---- read back --------------------------------------------------------------------------------

def test_another_pharmacys_settlement_is_not_found(pos, other_pos, factory):
    user = factory.user(balance_fen=5000)
    _, done = pos.settle(pos.token_for(issue(user).code))
    r, body = other_pos.get(done["settlement_id"])
    assert (r.status_code, error_of(body)) == (404, "not_found")
    for bad in ("nope", "x" * 41, "a%20b"):
        r, body = pos.get(bad)
        assert (r.status_code, error_of(body)) == (404, "not_found")
    # A NUL in the path is refused before any view (webapp/hardening.py), in the API's scheme.
    r, body = pos.get("%00")
    assert (r.status_code, error_of(body)) == (400, "invalid_request")


def test_settlement_made_at_the_counter_is_readable_by_the_pos(pos, factory):
    """The API reads what the web pages wrote: one service, one table."""
    from webapp.audit.services import Actor

    user = factory.user(balance_fen=5000)
    staff = factory.staff(pharmacy_obj=pos.pharmacy)
    checked = settlement_service.verify(issue(user).code, pos.pharmacy, Actor(user=staff))
    row = settlement_service.settle(checked.token, pos.pharmacy, Actor(user=staff), 800, "感冒灵")
    r, body = pos.get(row.public_id)
    assert (r.status_code, body["total_fen"], body["items"]) == (200, 800, "感冒灵")


# ---- the HTTP envelope ------------------------------------------------------------------------

def test_unknown_paths_and_methods_answer_json(client, pos):
    r = client.get("/api/v1/nothing-here", headers=pos.headers())
    assert (r.status_code, r.get_json()["error"]["code"]) == (404, "not_found")
    r = client.get("/api/", headers=pos.headers())
    assert (r.status_code, r.get_json()["error"]["code"]) == (404, "not_found")
    r = client.get(VERIFY, headers=pos.headers())
    assert (r.status_code, r.get_json()["error"]["code"]) == (405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"
    r = client.delete(f"{SETTLE}/abc", headers=pos.headers())
    assert (r.status_code, r.headers["Allow"]) == (405, "GET")


def test_body_too_large_is_413_json(app, pos):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r, body = pos.verify(None, json={"code": "A" * 5000})
    assert (r.status_code, error_of(body)) == (413, "payload_too_large")


def test_api_is_exempt_from_csrf_but_pages_are_not(app, pos, factory):
    app.config["WTF_CSRF_ENABLED"] = True
    r, _ = pos.verify(issue(factory.user()).code)
    assert r.status_code == 200
    assert pos.client.post("/auth/login", data={"phone": "1", "password": "x"}).status_code == 400


def test_rate_limit_is_per_key(app, pos, other_pos, factory):
    app.config["RATELIMIT_CODE_VERIFY"] = "3 per minute"
    for _ in range(3):
        assert pos.verify("UNKNOWN")[0].status_code == 404
    r, body = pos.verify("UNKNOWN")
    assert (r.status_code, error_of(body)) == (429, "rate_limited")
    assert other_pos.verify("UNKNOWN")[0].status_code == 404


def test_rate_limit_window_is_read_only_to_refuse(app, pos, monkeypatch):
    """No X-RateLimit-* headers on limited answers (writing them read the window back from the
    store on every verify: with Redis two more round trips); a 429 says when to come back."""
    from webapp.extensions import limiter

    app.config["RATELIMIT_CODE_VERIFY"] = "2 per minute"
    reads = []
    strategy = limiter.limiter
    original = strategy.get_window_stats
    monkeypatch.setattr(strategy, "get_window_stats",
                        lambda *a, **kw: reads.append(a) or original(*a, **kw))
    for _ in range(2):
        r, _ = pos.verify("UNKNOWN")
        assert r.status_code == 404
        assert not [h for h in r.headers.keys() if h.lower().startswith("x-ratelimit")]
        assert "Retry-After" not in r.headers
    assert reads == []
    r, body = pos.verify("UNKNOWN")
    assert (r.status_code, error_of(body)) == (429, "rate_limited")
    assert len(reads) == 1
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_unexpected_failure_is_a_json_500(app, pos, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(settlement_service, "verify", boom)
    r = pos.client.post(VERIFY, json={"code": "ABC"}, headers=pos.headers())
    assert (r.status_code, r.get_json()["error"]["code"]) == (500, "internal_error")


# ---- the contract tables ------------------------------------------------------------------------

def test_every_service_error_code_is_mapped_to_a_documented_api_code():
    assert set(settlement_service.ERRORS) <= set(SERVICE_CODES)
    assert set(SERVICE_CODES.values()) <= set(ERRORS)
    documented = set()
    for operation in OPERATIONS.values():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                codes = response["content"]["application/json"]["schema"]["properties"][
                    "error"]["properties"]["code"]["enum"]
                assert all(ERRORS[c][0] == int(status) for c in codes)
                documented |= set(codes)
    # Every code but the envelope's own (405, 500) is documented on some operation.
    assert documented == set(ERRORS) - {"method_not_allowed", "internal_error"}


def test_openapi_document_is_served_and_valid(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": doc["components"]["securitySchemes"]["ApiKeyAuth"]["description"]}
    assert set(doc["paths"]) == {VERIFY, SETTLE, "/api/v1/settlements/{settlement_id}",
                                 "/api/v1/presettlements", "/api/v1/settlements/{settlement_id}/cancel",
                                 "/api/v1/reversals", "/api/v1/reconciliations",
                                 "/api/v1/reconciliations/details"}
    assert doc["components"]["schemas"]["SettlementRequest"]["additionalProperties"] is False
