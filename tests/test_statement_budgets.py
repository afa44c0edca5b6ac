"""SQL statements per request on the hot paths (issue 13): each has a budget, on SQLite and
PostgreSQL, and the test fails when a change adds a round trip.

Every request is measured as production sees it: the session is expired before it (a new
request loads everything again) and every statement sent to the database counts, BEGIN /
COMMIT excluded (the DBAPI sends those itself, not through ``before_cursor_execute``).
The budgets are what the paths need; the comment of each says which statements they are.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.test_api import Pos
from tests.test_codes import bind, issue, login
from tests.test_query_counts import counting
from webapp.api.keys import create_key
from webapp.audit.services import SYSTEM
from webapp.codes import msgids
from webapp.extensions import db
from webapp.models import Message

BUDGETS = {
    # the session row with its user and their person (one statement); the INSERT of the code
    # (nothing is reloaded after the commit)
    "refresh": 2,
    # + the binding with its member (one statement), the audit row of a relative's code
    "refresh_relative": 4,
    # session + user + person; INSERT code; the unread count of the tab bar (the consent gate
    # asks the database only once a document has a newer version, once per session)
    "code_page": 3,
    # session + user + person; the shown codes with their payment (one lookup by code_hash);
    # both on an autocommit connection (tests/test_hot_paths.py)
    "status_poll": 2,
    # key; its audit row and last_used_at; the code with patient, account and whether the
    # patient is in any 共济 group (one statement); the token UPDATE; the verify audit row (the
    # 共济 seam asks nothing for a patient outside every group: 7 before)
    "verify": 6,
    # a 共济 member's code: the same 7, its membership statement bringing the group, the owner
    # and the owner's account along (there were one more for each of those: 10)
    "verify_aid": 7,
    # a child's code shown by the mother: the same 6, the binding and its holder loaded with the
    # code (they were a lookup each: 9)
    "verify_relative": 6,
    # key, audit, msgid claim (one INSERT … RETURNING id when fresh); the consuming UPDATE …
    # RETURNING, the consumed row with patient and account; the account lock;
    # the settlement, the debit (balance, ledger row), the code's settlement_id, the message;
    # the relatives' bindings with their holders (one statement); audit; the msgid answer; the
    # aid seam asks nothing when the consumed row says the patient is in no group (15 before)
    "settle": 14,
    # a child's code shown by the mother, the father also bound: + the binding FOR UPDATE, and
    # a message to each parent (their bindings and holders still one statement)
    "settle_relative": 17,
    # the patient's own account runs short and the 共济 owner pays the rest: the aid seam is
    # asked twice (before and after the locks, one statement each), the owner's account is
    # locked too, its debit is a second ledger row, the owner is told (23 before the aid seam
    # took its group, owner and account in one statement)
    "settle_aid": 19,
    # key, audit, msgid claim (one); the settlement FOR UPDATE with its patient; the
    # reconciled-day check; its payments; the account lock; refund (balance, ledger row); the
    # settlement's new state; the message; the relatives' bindings; audit; the msgid answer
    "cancel": 14,
}


def measure(client, method: str, path: str, **kw) -> tuple[int, list[str], object]:
    """Statements of one request (everything loaded before is expired, as in a new request)."""
    db.session.expire_all()
    with counting() as box:
        response = getattr(client, method)(path, **kw)
    assert response.status_code < 300, (path, response.status_code, response.get_data(True))
    return box[0], box[1], response


def within(name: str, count: int, sql: list[str]) -> None:
    listing = "\n".join(f"  {s.split(chr(10))[0][:150]}" for s in sql)
    assert count <= BUDGETS[name], f"{name}: {count} statements > budget {BUDGETS[name]}:\n{listing}"


@pytest.fixture
def holder(app, client, factory):
    user = factory.user(name="李红", age=38, male=False, balance_fen=5000)
    login(client, user)
    return user


def test_refresh_budget(holder, client):
    count, sql, response = measure(client, "post", "/code/me/refresh")
    assert "svg" in response.get_json()
    within("refresh", count, sql)


def test_refresh_for_a_relative_budget(holder, client, factory):
    child = factory.person(name="张小明", age=8)
    binding = bind(holder.person, child, "child")
    count, sql, _ = measure(client, "post", f"/code/{binding.public_id}/refresh")
    within("refresh_relative", count, sql)


def test_code_page_budget(holder, client):
    client.get("/code/me")  # the session's CSRF token is made (and stored) on the first page
    count, sql, response = measure(client, "get", "/code/me")
    assert "data-code-page" in response.get_data(as_text=True)
    within("code_page", count, sql)


def test_status_poll_budget(holder, client):
    shown = [issue(holder).code for _ in range(3)]
    count, sql, response = measure(client, "post", "/code/me/status", data={"c": shown})
    assert response.get_json()["state"] == "valid"
    within("status_poll", count, sql)


@pytest.fixture
def pos(app, client, factory):
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    _, raw = create_key(pharmacy.code, "收银台1", SYSTEM)
    return Pos(client, pharmacy, raw)


def _verify(pos, code: str):
    return measure(pos.client, "post", "/api/v1/codes/verify", json={"code": code},
                   headers=pos.headers())


def test_verify_budget(pos, factory):
    patient = factory.user(name="王芳", age=40, balance_fen=5000)
    count, sql, response = _verify(pos, issue(patient).code)
    assert response.get_json()["settlement_token"]
    within("verify", count, sql)


def test_verify_asks_the_aid_seam_only_for_group_members(pos, factory):
    """The code is read with whether its patient is in any 共济 group: outside every group (or
    only invited) verify asks no membership statement; once a membership is 已生效 it does, and
    the aid is offered."""
    from tests.test_aid_rules import accept, add, make_owner, open_group

    owner = make_owner(factory, balance_fen=3000)
    open_group(owner)
    mother = factory.user(name="李秀英", age=62, male=False, balance_fen=0)

    def verified():
        count, sql, response = _verify(pos, issue(mother).code)
        asked = [s for s in sql if "aid_group" in s]
        return count, asked, response.get_json()["aid_available_fen"]

    count, asked, aid = verified()
    assert (asked, aid) == ([], 0)
    within("verify", count, [])
    pending = add(owner.person, mother.person, "parent").member
    assert verified()[1:] == ([], 0)
    accept(pending)
    count, asked, aid = verified()
    assert len(asked) == 1 and aid == 3000
    within("verify_aid", count, asked)


def _aid_family(factory):
    """王小明 (20, ¥5.00 of his own) in the 共济 group of 王建国 (¥100.00)."""
    from tests.test_aid_payments import family

    return family(factory, owner_balance=10000, region="360102")


def test_verify_for_a_relative_budget(pos, factory):
    mother = factory.user(name="李红", age=38, male=False)
    child = factory.person(name="张小明", age=8, balance_fen=5000)
    binding = bind(mother.person, child, "child")
    count, sql, response = _verify(pos, issue(mother, binding.public_id).code)
    assert response.get_json()["shown_by"] == "relative"
    within("verify_relative", count, sql)


def test_verify_with_family_aid_budget(pos, factory):
    _, son, _ = _aid_family(factory)
    count, sql, response = _verify(pos, issue(son).code)
    assert response.get_json()["aid_available_fen"] > 0
    within("verify_aid", count, sql)


def test_settle_with_family_aid_budget(pos, factory):
    owner, son, _ = _aid_family(factory)
    count, sql, response = _settle(pos, son)
    body = response.get_json()
    assert body["status"] == "settled" and body["aid_fen"] == 2350 - 500, body
    within("settle_aid", count, sql)


def _settle(pos, patient, key: str = "me"):
    token = _verify(pos, issue(patient, key).code)[2].get_json()["settlement_token"]
    body = {"msgid": msgids.new_msgid(pos.pharmacy), "settlement_token": token,
            "business_type": "02121", "amount_fen": 2350,
            "items": [{"name": "布洛芬缓释胶囊", "quantity": 1, "amount_fen": 2350}]}
    return measure(pos.client, "post", "/api/v1/settlements", json=body, headers=pos.headers())


def test_settle_budget(pos, factory):
    patient = factory.user(name="王芳", age=40, balance_fen=5000)
    count, sql, response = _settle(pos, patient)
    assert response.get_json()["status"] == "settled"
    within("settle", count, sql)


def test_settle_for_a_relative_budget(pos, factory):
    mother = factory.user(name="李红", age=38, male=False)
    father = factory.user(name="张伟", age=40)
    child = factory.person(name="张小明", age=8, balance_fen=5000)
    binding = bind(mother.person, child, "child")
    bind(father.person, child, "child")
    count, sql, response = _settle(pos, mother, binding.public_id)
    assert response.get_json()["shown_by"] == "relative"
    within("settle_relative", count, sql)
    told = db.session.scalars(select(Message.recipient_person_id)
                              .where(Message.title == "家人医保支付通知")).all()
    assert sorted(told) == sorted([mother.person.id, father.person.id])


def test_cancel_budget(pos, factory):
    patient = factory.user(name="王芳", age=40, balance_fen=5000)
    settled = _settle(pos, patient)[2].get_json()["settlement_id"]
    count, sql, response = measure(
        pos.client, "post", f"/api/v1/settlements/{settled}/cancel",
        json={"msgid": msgids.new_msgid(pos.pharmacy), "reason": "顾客退货"},
        headers=pos.headers())
    assert response.get_json()["status"] == "cancelled"
    within("cancel", count, sql)
