"""POS API of issue 10 (2101 pre-settle, msgid replay, 2103 cancel, 2601 reversal, 3201/3202
reconciliation) and the contract's single source: the served document equals what the pydantic
models generate, every registry code is documented, the HTTP envelope refuses what it must."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.test_api import OPERATIONS, Pos, conforms, error_of, money
from tests.test_codes import issue
from webapp import clock
from webapp.api import schemas
from webapp.api.errors import REGISTRY
from webapp.api.keys import create_key
from webapp.audit.services import SYSTEM
from webapp.blueprints.api.openapi import (
    REF,
    OpenApi30,
    _openapi30,
    build_document,
    component_schemas,
)
from webapp.codes import msgids
from webapp.codes.cancel import settlement_day
from webapp.codes.states import SettlementStatus
from webapp.extensions import db
from webapp.ledger.check import check
from webapp.models import Settlement

PRESETTLE = "/api/v1/presettlements"
REVERSALS = "/api/v1/reversals"
TOTALS = "/api/v1/reconciliations"
DETAILS = "/api/v1/reconciliations/details"
CANCEL = "/api/v1/settlements/{settlement_id}/cancel"


class Pos10(Pos):
    """A POS that also speaks the calls of issue 10 (every answer checked against the doc)."""

    def msgid(self, sequence: int) -> str:
        """This POS's message ``sequence`` (one fixed second, so that a retry is the same id)."""
        return msgids.prefix_of(self.pharmacy) + "20260501103015" + f"{sequence:04d}"

    def post(self, path: str, template: str, body) -> tuple:
        r = self.client.post(path, json=body, headers=self.headers())
        return r, conforms(r, template, "post")

    def presettle(self, token, amount_fen=2350):
        return self.post(PRESETTLE, PRESETTLE, {
            "settlement_token": token, "business_type": "02121", "amount_fen": amount_fen,
            "items": [{"name": "布洛芬缓释胶囊", "quantity": 1, "amount_fen": amount_fen}]})

    def cancel(self, settlement_id, msgid, reason="顾客退货"):
        return self.post(f"/api/v1/settlements/{settlement_id}/cancel", CANCEL,
                         {"msgid": msgid, "reason": reason})

    def reverse(self, msgid, original):
        return self.post(REVERSALS, REVERSALS, {"msgid": msgid, "original_msgid": original})


@pytest.fixture
def pos(app, client, factory):
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    pharmacy.code = f"P3601{pharmacy.id:07d}"
    db.session.commit()
    _, raw = create_key(pharmacy.code, "收银台1", SYSTEM)
    return Pos10(client, pharmacy, raw)


@pytest.fixture
def other_pos(app, client, factory):
    pharmacy = factory.pharmacy(name="别家药房", region="360000")
    _, raw = create_key(pharmacy.code, "收银台", SYSTEM)
    return Pos10(client, pharmacy, raw)


# ---- the single source ------------------------------------------------------------------------

def test_served_document_equals_what_the_models_generate(client):
    """Each component is exactly its model's own JSON schema (3.0 spelling); nothing else."""
    served = client.get("/api/openapi.json").get_json()
    assert served == build_document()
    assert served["components"]["schemas"] == component_schemas()
    assert set(served["components"]["schemas"]) == \
        {m.__name__ for m in (*schemas.COMPONENTS, *schemas.ENUMS)}
    assert served["components"]["schemas"]["SettlementStatus"]["enum"] == \
        list(SettlementStatus.values())
    for model in schemas.COMPONENTS:
        mode = "validation" if issubclass(model, schemas.Request) else "serialization"
        own = model.model_json_schema(ref_template=REF, schema_generator=OpenApi30, mode=mode)
        own.pop("$defs", None)
        assert served["components"]["schemas"][model.__name__] == _openapi30(own), model
    for item in served["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                name = body["schema"]["$ref"].rsplit("/", 1)[1]
                model = next(m for m in schemas.COMPONENTS if m.__name__ == name)
                model.model_validate(body["example"])  # every example is a valid request


def test_every_registry_code_is_documented_with_its_status():
    documented = {}
    for operation in OPERATIONS.values():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                for code in response["content"]["application/json"]["schema"]["properties"][
                        "error"]["properties"]["code"]["enum"]:
                    documented[code] = int(status)
    assert {c: REGISTRY[c].status for c in documented} == documented
    assert set(documented) == set(REGISTRY) - {"method_not_allowed", "internal_error"}


def test_new_operations_have_examples():
    for (path, _method), operation in OPERATIONS.items():
        if "requestBody" in operation:
            assert "example" in operation["requestBody"]["content"]["application/json"], path


# ---- 2101 -------------------------------------------------------------------------------------

def test_presettle_answers_the_split_and_keeps_the_token(pos, factory):
    user = factory.user(balance_fen=2000)
    token = pos.token_for(issue(user).code)
    before = money()
    r, body = pos.presettle(token)
    assert r.status_code == 200
    assert (body["personal_account_fen"], body["aid_fen"], body["self_pay_fen"]) == (2000, 0, 350)
    assert body["split_text"] == "个人账户¥20.00，现金¥3.50"
    assert money() == before
    r, done = pos.settle(token)
    assert (r.status_code, done["self_pay_fen"]) == (201, 350)


def test_presettle_refusals(pos, factory):
    r, body = pos.presettle("nope")
    assert (r.status_code, error_of(body)) == (400, "token_invalid")
    token = pos.token_for(issue(factory.user()).code)
    r, body = pos.presettle(token, amount_fen=0)
    assert (r.status_code, error_of(body)) == (422, "invalid_amount")


# ---- 2102 with msgid --------------------------------------------------------------------------

def test_same_msgid_same_body_is_replayed_with_200(pos, factory):
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    msgid = pos.msgid(1)
    r1, first = pos.settle(token, msgid=msgid)
    assert r1.status_code == 201 and "X-Replay" not in r1.headers
    before = money()
    r2, again = pos.settle(token, msgid=msgid)
    assert (r2.status_code, r2.headers["X-Replay"]) == (200, "true")
    assert again == first and r2.headers["Location"] == r1.headers["Location"]
    assert money() == before


def test_same_msgid_different_body_is_409(pos, factory):
    user = factory.user(balance_fen=10000)
    msgid = pos.msgid(1)
    pos.settle(pos.token_for(issue(user).code), msgid=msgid)
    before = money()
    r, body = pos.settle(pos.token_for(issue(user).code), amount_fen=100, msgid=msgid)
    assert (r.status_code, error_of(body)) == (409, "msgid_conflict")
    assert money() == before


FOREIGN = "000000000000" + "20260501103015" + "0001"


@pytest.mark.parametrize("msgid", ["short", None, 5, "X" * 30, FOREIGN,
                                   "P36010000001" + "20261399000000" + "0001"])
def test_malformed_msgid(pos, factory, msgid):
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    before = money()
    r, body = pos.settle(token, msgid=msgid)
    expected = "invalid_msgid" if isinstance(msgid, str) and msgid[12:].isdigit() else \
        "invalid_request"
    assert (r.status_code, error_of(body)) == (400, expected)
    assert money() == before


def test_another_pharmacys_msgid_prefix_is_invalid_msgid(pos, other_pos, factory):
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    r, body = pos.settle(token, msgid=other_pos.msgid(1))
    assert (r.status_code, error_of(body), body["error"]["field"]) == (400, "invalid_msgid", "msgid")


# ---- 2103 -------------------------------------------------------------------------------------

def test_cancel_then_cancel_again_answers_the_first(pos, factory):
    user = factory.user(balance_fen=10000)
    _, done = pos.settle(pos.token_for(issue(user).code))
    r, first = pos.cancel(done["settlement_id"], pos.msgid(2))
    assert (r.status_code, first["status"], first["cancel_reason"]) == (200, "cancelled", "顾客退货")
    assert "X-Replay" not in r.headers
    before = money()
    r, again = pos.cancel(done["settlement_id"], pos.msgid(3), reason="再来一次")
    assert (r.status_code, r.headers["X-Replay"], again) == (200, "true", first)
    r, same = pos.cancel(done["settlement_id"], pos.msgid(2))
    assert (r.status_code, same) == (200, first)
    assert money() == before
    _, read = pos.get(done["settlement_id"])
    assert read["status"] == "cancelled" and read["self_pay_refunded_fen"] == 0
    assert check() == []


def test_cancel_errors(pos, other_pos, factory):
    user = factory.user(balance_fen=10000)
    _, done = pos.settle(pos.token_for(issue(user).code))
    r, body = other_pos.cancel(done["settlement_id"], other_pos.msgid(1))
    assert (r.status_code, error_of(body)) == (404, "not_found")
    r, body = pos.cancel("no-such", pos.msgid(1))
    assert (r.status_code, error_of(body)) == (404, "not_found")
    r, body = pos.post(f"/api/v1/settlements/{done['settlement_id']}/cancel", CANCEL,
                       {"msgid": pos.msgid(1), "reason": "   "})
    assert (r.status_code, error_of(body)) == (400, "invalid_request")
    r, body = pos.post(f"/api/v1/settlements/{done['settlement_id']}/cancel", CANCEL,
                       {"reason": "退货"})
    assert (r.status_code, body["error"]["field"]) == (400, "msgid")
    r, body = pos.cancel(done["settlement_id"], pos.msgid(1), reason="原" * 101)
    assert (r.status_code, error_of(body)) == (400, "invalid_request")


def test_cancel_on_the_next_china_day_is_cancel_window_closed(pos, factory):
    clock.freeze(clock.china_midnight_utc(clock.today()) + timedelta(hours=23, minutes=59))
    _, done = pos.settle(pos.token_for(issue(factory.user(balance_fen=10000)).code))
    clock.freeze(clock.now() + timedelta(minutes=1))
    r, body = pos.cancel(done["settlement_id"], pos.msgid(1))
    assert (r.status_code, error_of(body)) == (409, "cancel_window_closed")


def test_cancel_after_reconciliation_is_day_reconciled(pos, factory):
    _, done = pos.settle(pos.token_for(issue(factory.user(balance_fen=1000)).code),
                         amount_fen=1500)
    day = settlement_day(db.session.scalar(select(Settlement)))
    r, body = pos.post(TOTALS, TOTALS, {
        "date": day.isoformat(), "count": 1, "total_fen": 1500, "account_fen": 1000,
        "aid_fen": 0, "cash_fen": 500})
    assert (r.status_code, body["result"], body["differences"]) == (200, "match", [])
    r, body = pos.cancel(done["settlement_id"], pos.msgid(1))
    assert (r.status_code, error_of(body)) == (409, "day_reconciled")


# ---- 2601 -------------------------------------------------------------------------------------

def test_reversal_of_a_settle_cancels_and_is_idempotent(pos, factory):
    msgid = pos.msgid(1)
    _, done = pos.settle(pos.token_for(issue(factory.user(balance_fen=10000)).code),
                         msgid=msgid)
    r, body = pos.reverse(pos.msgid(2), msgid)
    assert (r.status_code, body["result"], body["settlement"]["status"]) == \
        (200, "cancelled", "cancelled")
    before = money()
    r, again = pos.reverse(pos.msgid(2), msgid)
    assert (r.status_code, r.headers["X-Replay"], again) == (200, "true", body)
    assert money() == before


def test_reversal_before_arrival_then_late_arrival_is_reversed(pos, factory):
    lost = pos.msgid(1)
    r, body = pos.reverse(pos.msgid(2), lost)
    assert (r.status_code, body["result"]) == (200, "recorded") and "settlement" not in body
    token = pos.token_for(issue(factory.user(balance_fen=10000)).code)
    r, body = pos.settle(token, msgid=lost)
    assert (r.status_code, error_of(body)) == (409, "reversed")


def test_reversal_of_a_reversal_is_not_reversible(pos):
    pos.reverse(pos.msgid(2), pos.msgid(1))
    r, body = pos.reverse(pos.msgid(3), pos.msgid(2))
    assert (r.status_code, error_of(body)) == (409, "not_reversible")


# ---- 3201 / 3202 ------------------------------------------------------------------------------

def test_reconciliation_totals_mismatch_names_the_difference(pos, factory):
    pos.settle(pos.token_for(issue(factory.user(balance_fen=0)).code), amount_fen=700)
    day = clock.today().isoformat()
    r, body = pos.post(TOTALS, TOTALS, {"date": day, "count": 2, "total_fen": 1400,
                                        "account_fen": 0, "aid_fen": 0, "cash_fen": 1400})
    assert (r.status_code, body["result"]) == (200, "mismatch")
    assert {d["field"]: d["difference"] for d in body["differences"]} == \
        {"count": 1, "total_fen": 700, "cash_fen": 700}


def test_reconciliation_details_finds_the_missing_one(pos, factory):
    _, done = pos.settle(pos.token_for(issue(factory.user(balance_fen=0)).code), amount_fen=700)
    r, body = pos.post(DETAILS, DETAILS, {"date": clock.today().isoformat(), "settlements": []})
    assert (r.status_code, body["result"]) == (200, "mismatch")
    assert [row["settlement_id"] for row in body["missing_theirs"]] == [done["settlement_id"]]


def test_reconciliation_of_a_future_day_is_invalid_reconciliation(pos):
    day = (clock.today() + timedelta(days=2)).isoformat()
    r, body = pos.post(TOTALS, TOTALS, {"date": day, "count": 0, "total_fen": 0,
                                        "account_fen": 0, "aid_fen": 0, "cash_fen": 0})
    assert (r.status_code, error_of(body)) == (422, "invalid_reconciliation")
    r, body = pos.post(TOTALS, TOTALS, {"date": "2026-02-30", "count": 0, "total_fen": 0,
                                        "account_fen": 0, "aid_fen": 0, "cash_fen": 0})
    assert (r.status_code, error_of(body)) == (400, "invalid_request")


# ---- the HTTP envelope ------------------------------------------------------------------------

def test_deeply_nested_json_is_invalid_request(pos):
    for body in ("[" * 2000 + "]" * 2000, '{"code": ' + "[" * 3000 + "]" * 3000 + "}",
                 '{"a":' * 500 + "1" + "}" * 500):
        r = pos.client.post("/api/v1/codes/verify", data=body, content_type="application/json",
                            headers=pos.headers())
        assert (r.status_code, r.get_json()["error"]["code"]) == (400, "invalid_request")


def test_brackets_inside_strings_do_not_count_as_nesting(pos):
    r = pos.client.post("/api/v1/codes/verify", json={"code": "[" * 60},
                        headers=pos.headers())
    assert (r.status_code, r.get_json()["error"]["code"]) == (404, "unknown_code")


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE"])
def test_options_and_trace_are_405_with_allow(pos, method):
    for path, allow in (("/api/v1/settlements", "POST"), ("/api/v1/settlements/abc", "GET"),
                        ("/api/v1/codes/verify", "POST")):
        r = pos.client.open(path, method=method, headers=pos.headers())
        assert r.status_code == 405, (method, path)
        assert r.get_json()["error"]["code"] == "method_not_allowed"
        assert r.headers["Allow"] == allow


def test_verify_with_msgid_is_replayed_and_cannot_be_reversed(pos, factory):
    code = issue(factory.user(balance_fen=10000)).code
    r = pos.client.post("/api/v1/codes/verify", json={"code": code, "msgid": pos.msgid(1)},
                        headers=pos.headers())
    first = conforms(r, "/api/v1/codes/verify", "post")
    assert r.status_code == 200 and "X-Replay" not in r.headers
    r = pos.client.post("/api/v1/codes/verify", json={"code": code, "msgid": pos.msgid(1)},
                        headers=pos.headers())
    assert (r.status_code, r.headers["X-Replay"], conforms(r, "/api/v1/codes/verify", "post")) \
        == (200, "true", first)
    r, body = pos.reverse(pos.msgid(2), pos.msgid(1))
    assert (r.status_code, error_of(body)) == (409, "not_reversible")
    r, done = pos.settle(first["settlement_token"])
    assert r.status_code == 201
