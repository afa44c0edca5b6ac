"""家庭共济 at the counter: the member's own account first, then the owner's, then self-pay,
with ledger rows on the owner's account; the Jiangsu window and cap; the owner's 消费明细."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from tests.test_aid_rules import (
    JIANGSU,
    accept,
    add,
    audit_count,
    inbox,
    make_owner,
    open_group,
)
from tests.test_codes import issue, login
from tests.test_settlement import assert_ledger_matches_balances, pay
from webapp import clock
from webapp.aid import payments as aid_payments
from webapp.aid import queries
from webapp.aid import services as aid
from webapp.aid import spending as aid_spending
from webapp.audit.services import Actor
from webapp.codes import settlement
from webapp.extensions import db
from webapp.models import LedgerEntry, Message


def shop_of(factory, region: str = "360000", name: str = "仁心大药房"):
    pharmacy = factory.pharmacy(name=name, region=region)
    return pharmacy, factory.staff(pharmacy_obj=pharmacy)


def family(factory, owner_balance: int = 10000, region: str = "360102"):
    """Owner 王建国 (balance given) with an active member: son 王小明 (20, own balance ¥5.00)."""
    owner = make_owner(factory, region=region, balance_fen=owner_balance)
    open_group(owner)
    son = factory.user(name="王小明", age=20, region=region, balance_fen=500)
    member = accept(add(owner.person, son.person, "child").member)
    return owner, son, member


def test_own_account_then_owner_then_cash_with_ledger_rows(app, factory):
    owner, son, _ = family(factory, owner_balance=1000)
    shop = shop_of(factory)
    s = pay(issue(son).code, shop, amount_fen=2350)
    assert (s.account_fen, s.aid_fen, s.cash_fen) == (500, 1000, 850)
    assert s.aid_owner_person_id == owner.person.id
    db.session.refresh(owner.person.account)
    assert owner.person.account.balance_fen == 0 and son.person.account.balance_fen == 0

    own = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "payment")).one()
    assert (own.account_id, own.amount_fen) == (son.person.account.id, -500)
    entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "aid_payment")).one()
    assert (entry.account_id, entry.amount_fen, entry.balance_after_fen) == \
        (owner.person.account.id, -1000, 0)
    assert (entry.settlement_id, entry.beneficiary_person_id) == (s.id, son.person.id)
    assert "王*明" in entry.memo and "仁心大药房" in entry.memo
    assert "家庭共济支付通知" in inbox(owner.person)
    body, link = db.session.execute(
        select(Message.body, Message.link).where(Message.title == "家庭共济支付通知")).one()
    assert "王*明" in body and "¥10.00" in body and link == "/aid/spending"
    assert audit_count("settlement.create") == 1
    assert_ledger_matches_balances()


def test_own_account_enough_leaves_owner_untouched(app, factory):
    owner, son, _ = family(factory)
    s = pay(issue(son).code, shop_of(factory), amount_fen=300)
    assert (s.account_fen, s.aid_fen, s.cash_fen) == (300, 0, 0)
    assert owner.person.account.balance_fen == 10000


def test_zero_owner_balance_falls_to_self_pay(app, factory):
    owner, son, _ = family(factory, owner_balance=0)
    s = pay(issue(son).code, shop_of(factory), amount_fen=2350)
    assert (s.account_fen, s.aid_fen, s.cash_fen) == (500, 0, 1850)
    assert s.aid_owner_person_id is None


def test_pending_removed_and_left_members_do_not_use_the_owner(app, factory):
    owner = make_owner(factory)
    open_group(owner)
    mother = factory.user(name="李秀英", age=62, male=False)
    pending = add(owner.person, mother.person, "parent").member
    assert pending.status == "pending_confirm"
    shop = shop_of(factory)
    assert pay(issue(mother).code, shop, amount_fen=1000).aid_fen == 0
    member = accept(pending)
    assert pay(issue(mother).code, shop, amount_fen=1000).aid_fen == 1000
    aid.leave(mother.person, member, Actor(user=mother))
    assert pay(issue(mother).code, shop, amount_fen=1000).aid_fen == 0
    son = factory.user(name="王小明", age=20)
    removed = accept(add(owner.person, son.person, "child").member)
    aid.remove_member(owner.person, removed, Actor(user=owner))
    assert pay(issue(son).code, shop, amount_fen=1000).aid_fen == 0
    assert_ledger_matches_balances()


def test_suspended_owner_pays_nothing(app, factory):
    owner, son, _ = family(factory)
    owner.person.status = "suspended"
    db.session.commit()
    assert pay(issue(son).code, shop_of(factory), amount_fen=2000).aid_fen == 0


def test_payment_outside_the_jiangsu_window_falls_to_self_pay(app, factory):
    """Jiangsu: authorised 10 days from in 5 days; before and after it the owner pays nothing."""
    owner = make_owner(factory, region=JIANGSU)
    open_group(owner)
    kid = factory.user(name="王小宝", age=8, region=JIANGSU)
    today = clock.today()
    start, end = today + timedelta(days=5), today + timedelta(days=14)
    member = add(owner.person, kid.person, "child", starts_on=start, ends_on=end).member
    assert member.status == "active"
    shop = shop_of(factory, region="320000", name="苏州大药房")

    s = pay(issue(kid).code, shop, amount_fen=1500)  # today: before the window
    assert (s.aid_fen, s.cash_fen) == (0, 1500)
    noon = clock.china_midnight_utc(start) + timedelta(hours=12)
    with clock.frozen_at(noon):
        s = pay(issue(kid).code, shop, amount_fen=1500)
        assert (s.aid_fen, s.cash_fen) == (1500, 0)
    with clock.frozen_at(clock.china_midnight_utc(end + timedelta(days=1)) + timedelta(hours=1)):
        s = pay(issue(kid).code, shop, amount_fen=1500)
        assert (s.aid_fen, s.cash_fen) == (0, 1500)
    assert_ledger_matches_balances()


def test_monthly_cap_limits_the_owner_share(app, factory):
    """Jiangsu: cap ¥30.00 a month — ¥20 + ¥10 then cash; the next month the cap is fresh."""
    owner = make_owner(factory, region=JIANGSU)
    open_group(owner)
    kid = factory.user(name="王小宝", age=8, region=JIANGSU)
    add(owner.person, kid.person, "child", monthly_cap_fen=3000)
    shop = shop_of(factory, region="320000")
    first = datetime(2031, 3, 10, 4, 0)  # 12:00 in China
    with clock.frozen_at(first):
        assert pay(issue(kid).code, shop, amount_fen=2000).aid_fen == 2000
        s = pay(issue(kid).code, shop, amount_fen=2000)
        assert (s.aid_fen, s.cash_fen) == (1000, 1000)
        assert pay(issue(kid).code, shop, amount_fen=500).aid_fen == 0
        assert aid_payments.payer_for(kid.person, 500, clock.now()) is None  # cap used up
    with clock.frozen_at(datetime(2031, 4, 1, 1, 0)):
        assert pay(issue(kid).code, shop, amount_fen=5000).aid_fen == 3000
    assert_ledger_matches_balances()


def test_verification_shows_what_aid_could_add(app, factory):
    owner, son, _ = family(factory, owner_balance=4321)
    pharmacy, staff = shop_of(factory)
    checked = settlement.verify(issue(son).code, pharmacy, Actor(user=staff))
    assert checked.aid_available_fen == 4321


# ---- 消费明细 --------------------------------------------------------------------------------

def spending_family(factory):
    """Two members paying in March and April 2031 from one owner."""
    owner = make_owner(factory, balance_fen=100000)
    open_group(owner)
    son = factory.user(name="王小明", age=20)
    wife = factory.user(name="陈丽", age=33, male=False)
    son_m = accept(add(owner.person, son.person, "child").member)
    wife_m = accept(add(owner.person, wife.person, "spouse").member)
    shop = shop_of(factory)
    with clock.frozen_at(datetime(2031, 3, 5, 2, 0)):
        pay(issue(son).code, shop, amount_fen=1000)
        pay(issue(wife).code, shop, amount_fen=2500)
    with clock.frozen_at(datetime(2031, 4, 2, 2, 0)):
        pay(issue(son).code, shop, amount_fen=700)
    return owner, son, wife, son_m, wife_m


def test_spending_totals_and_filters(app, factory):
    owner, son, wife, son_m, wife_m = spending_family(factory)
    count, total, per = aid_spending.totals(owner.person)
    assert (count, total) == (3, 4200)
    assert [(t.person.id, t.total_fen) for t in per] == [(wife.person.id, 2500),
                                                        (son.person.id, 1700)]
    march = aid_spending.parse_month("2031-03")
    assert aid_spending.totals(owner.person, month=march)[:2] == (2, 3500)
    assert aid_spending.totals(owner.person, son.person.id)[:2] == (2, 1700)
    assert aid_spending.totals(owner.person, son.person.id, march)[:2] == (1, 1000)
    rows = aid_spending.spendings(db.session.scalars(
        aid_spending.spending_query(owner.person, son.person.id)).all())
    assert [r.amount_fen for r in rows] == [700, 1000]  # newest first
    assert rows[0].pharmacy.name == "仁心大药房" and rows[0].member.id == son.person.id
    assert aid_spending.parse_month("2031-13") is None and aid_spending.parse_month("x") is None


def test_spending_page_filters_by_member_and_month(app, client, factory):
    owner, son, wife, son_m, wife_m = spending_family(factory)
    login(client, owner)
    page = client.get("/aid/spending").get_data(as_text=True)
    assert page.count("data-spending") == 3 and "¥42.00" in page
    page = client.get(f"/aid/spending?member={son_m.public_id}").get_data(as_text=True)
    assert page.count("data-spending") == 2 and "¥17.00" in page and "（2 笔）" in page
    page = client.get(f"/aid/spending?member={son_m.public_id}&month=2031-03").get_data(
        as_text=True)
    assert page.count("data-spending") == 1 and "¥10.00" in page and "2031年3月" in page
    page = client.get("/aid/spending?month=2031-04").get_data(as_text=True)
    assert page.count("data-spending") == 1 and "¥7.00" in page
    # a member id of someone else's group is just "all members"
    assert client.get("/aid/spending?member=nope").status_code == 200


def test_member_list_shows_what_each_spent_this_year(app, client, factory):
    owner, son, _ = family(factory)
    pay(issue(son).code, shop_of(factory), amount_fen=2000)
    assert queries.spent_this_year(owner.person) == {son.person.id: 1500}
    login(client, owner)
    page = client.get("/aid/").get_data(as_text=True)
    assert "王*明（子女）" in page and "¥15.00" in page and "今年已用" in page
