"""Settlement service: verify → settle, the split, refusals that move no money, the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.test_codes import bind, end, family, issue
from webapp import clock
from webapp.audit.services import Actor
from webapp.codes import settlement
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.models import (
    AuditLog,
    InsuranceCode,
    LedgerEntry,
    Message,
    PersonalAccount,
    Settlement,
)


@pytest.fixture
def shop(factory):
    """A pharmacy (仁心大药房, 江西) and one of its staff."""
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    return pharmacy, factory.staff(pharmacy_obj=pharmacy)


def money_snapshot():
    """Every balance, the ledger row count and the settlement count."""
    balances = dict(db.session.execute(
        select(PersonalAccount.id, PersonalAccount.balance_fen)).all())
    return (balances, db.session.scalar(select(func.count(LedgerEntry.id))),
            db.session.scalar(select(func.count(Settlement.id))))


def assert_ledger_matches_balances():
    """Σ ledger amounts of each account == its balance, and no balance is negative."""
    for account in db.session.scalars(select(PersonalAccount)).all():
        total = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
            .where(LedgerEntry.account_id == account.id))
        assert total == account.balance_fen >= 0


def pay(code: str, shop, amount_fen: int = 2350, items: str = "布洛芬缓释胶囊 1盒"):
    """Verify and settle in one go as the shop's staff."""
    pharmacy, staff = shop
    actor = Actor(user=staff)
    checked = settlement.verify(code, pharmacy, actor)
    return settlement.settle(checked.token, pharmacy, actor, amount_fen, items)


def refused(fn, *args, **kwargs) -> DomainError:
    """The DomainError fn raises."""
    with pytest.raises(DomainError) as info:
        fn(*args, **kwargs)
    db.session.rollback()
    return info.value


# ---- the split -------------------------------------------------------------------------------

def test_own_account_pays_first_then_cash(app, factory, shop):
    """Balance ¥20.00, purchase ¥23.50 → 个人账户 ¥20.00, 现金 ¥3.50; ledger row balance 0."""
    user = factory.user(name="张小明", balance_fen=2000)
    s = pay(issue(user).code, shop)
    assert (s.total_fen, s.account_fen, s.aid_fen, s.cash_fen) == (2350, 2000, 0, 350)
    assert user.person.account.balance_fen == 0
    entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "payment")).one()
    assert (entry.amount_fen, entry.balance_after_fen) == (-2000, 0)
    assert (entry.settlement_id, entry.beneficiary_person_id) == (s.id, user.person.id)
    assert "仁心大药房" in entry.memo
    assert (s.business_type, s.items, s.staff_user_id) == ("02121", "布洛芬缓释胶囊 1盒",
                                                            shop[1].id)
    assert_ledger_matches_balances()


def test_enough_balance_pays_everything(app, factory, shop):
    """Balance ¥100 → all ¥23.50 from the account, no cash."""
    user = factory.user(balance_fen=10000)
    s = pay(issue(user).code, shop)
    assert (s.account_fen, s.cash_fen) == (2350, 0)
    assert user.person.account.balance_fen == 7650
    assert_ledger_matches_balances()


def test_resident_insurance_without_account_pays_cash(app, factory, shop):
    """居民医保 has no personal account: all self-pay, no ledger row."""
    user = factory.user(insurance_type="resident")
    s = pay(issue(user).code, shop)
    assert (s.account_fen, s.cash_fen) == (0, 2350)
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_zero_balance_pays_cash_without_a_ledger_row(app, factory, shop):
    """No balance change → no ledger row."""
    user = factory.user(balance_fen=0)
    pay(issue(user).code, shop)
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_aid_seam_pays_between_own_account_and_cash(app, factory, shop, monkeypatch):
    """家庭共济 plugs in at aid_payer: own ¥5 → owner ¥10 (allowed) → cash ¥8.50."""
    owner = factory.person(name="张大山", age=40, balance_fen=100000)
    user = factory.user(name="张小明", balance_fen=500)
    monkeypatch.setattr(settlement, "aid_payer", lambda patient, remaining, at:
                        settlement.AidPayer(owner, owner.account, 1000))
    s = pay(issue(user).code, shop)
    assert (s.account_fen, s.aid_fen, s.cash_fen) == (500, 1000, 850)
    assert s.aid_owner_person_id == owner.id
    aid = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "aid_payment")).one()
    assert (aid.account_id, aid.amount_fen, aid.balance_after_fen) == (owner.account.id, -1000,
                                                                       99000)
    assert aid.beneficiary_person_id == user.person.id
    assert db.session.scalar(select(func.count(Message.id))
                             .where(Message.recipient_person_id == owner.id)) == 1
    assert_ledger_matches_balances()


def test_insufficient_when_cash_is_not_allowed(app, factory, shop):
    """allow_cash=False (an API option) refuses rather than asking for cash; nothing moves."""
    pharmacy, staff = shop
    user = factory.user(balance_fen=100)
    checked = settlement.verify(issue(user).code, pharmacy, Actor(user=staff))
    before = money_snapshot()
    err = refused(settlement.settle, checked.token, pharmacy, Actor(user=staff), 2350, "药",
                  allow_cash=False)
    assert err.code == "insufficient"
    assert money_snapshot() == before
    assert db.session.get(InsuranceCode, checked.code.id).used_at is None


# ---- refusals: the right message, no money moved ---------------------------------------------

def test_random_string_is_unknown(app, factory, shop):
    """A random string, an empty one, a code-shaped unknown: 无效的医保码."""
    factory.user(balance_fen=5000)
    before = money_snapshot()
    for text in ("hello", "", "A" * 18, "'; drop table x; --", "二维码" * 6):
        err = refused(settlement.verify, text, shop[0], Actor(user=shop[1]))
        assert (err.code, err.message, err.status) == ("unknown", "无效的医保码", 404)
    assert money_snapshot() == before


def test_used_code_is_refused(app, factory, shop):
    """A code works once: the second scan says 该医保码已使用 and nothing more moves."""
    user = factory.user(balance_fen=5000)
    issued = issue(user)
    pay(issued.code, shop)
    before = money_snapshot()
    err = refused(settlement.verify, issued.code, shop[0], Actor(user=shop[1]))
    assert (err.code, err.message) == ("used", "该医保码已使用")
    assert money_snapshot() == before


def test_expired_code_is_refused(app, factory, shop):
    """90 s after issue the code is refused with the ask to refresh."""
    user = factory.user(balance_fen=5000)
    issued = issue(user)
    clock.shift(timedelta(seconds=91))
    before = money_snapshot()
    err = refused(settlement.verify, issued.code, shop[0], Actor(user=shop[1]))
    assert (err.code, err.message) == ("expired", "医保码已过期，请让顾客刷新后重新出示")
    assert money_snapshot() == before


def test_code_of_an_ended_binding_is_refused(app, factory, shop):
    """Shown on behalf, then the binding ended: 该亲属绑定已解除，医保码无效."""
    mother, child, binding = family(factory)
    issued = issue(mother, binding.public_id)
    end(binding)
    before = money_snapshot()
    err = refused(settlement.verify, issued.code, shop[0], Actor(user=shop[1]))
    assert (err.code, err.message) == ("binding_ended", "该亲属绑定已解除，医保码无效")
    assert money_snapshot() == before


def test_binding_ended_between_verify_and_settle_is_refused(app, factory, shop):
    """The settle re-checks the binding; the code stays unused and no money moves."""
    mother, child, binding = family(factory)
    pharmacy, staff = shop
    checked = settlement.verify(issue(mother, binding.public_id).code, pharmacy,
                                Actor(user=staff))
    end(binding)
    before = money_snapshot()
    err = refused(settlement.settle, checked.token, pharmacy, Actor(user=staff), 2350, "药")
    assert err.code == "binding_ended"
    assert money_snapshot() == before
    assert db.session.get(InsuranceCode, checked.code.id).used_at is None


def test_patient_not_insured_is_refused(app, factory, shop):
    """暂停 → 该参保人当前未处于参保状态."""
    user = factory.user(status="suspended", balance_fen=5000)
    issued = issue(user)
    before = money_snapshot()
    err = refused(settlement.verify, issued.code, shop[0], Actor(user=shop[1]))
    assert (err.code, err.message) == ("not_insured", "该参保人当前未处于参保状态")
    assert money_snapshot() == before


def test_token_is_bound_to_the_pharmacy(app, factory, shop):
    """Another pharmacy cannot settle with a token it did not get."""
    user = factory.user(balance_fen=5000)
    checked = settlement.verify(issue(user).code, shop[0], Actor(user=shop[1]))
    other = factory.pharmacy(name="别家药房")
    err = refused(settlement.settle, checked.token, other, Actor(label="x"), 100, "药")
    assert err.code == "token_invalid"
    assert refused(settlement.settle, "nonsense", shop[0], Actor(), 100, "药").code == \
        "token_invalid"


def test_token_expires(app, factory, shop):
    """A token is good for SETTLEMENT_TOKEN_SECONDS (300 s) after verify."""
    user = factory.user(balance_fen=5000)
    checked = settlement.verify(issue(user).code, shop[0], Actor(user=shop[1]))
    clock.shift(timedelta(seconds=301))
    before = money_snapshot()
    err = refused(settlement.settle, checked.token, shop[0], Actor(user=shop[1]), 100, "药")
    assert (err.code, err.message) == ("token_expired", "结算凭证已过期，请重新扫码")
    assert refused(settlement.lookup, checked.token, shop[0]).code == "token_expired"
    assert money_snapshot() == before


def test_token_outlives_the_codes_own_90_seconds(app, factory, shop):
    """Verified at 80 s, settled at 150 s: fine — the code was valid when it was scanned."""
    user = factory.user(balance_fen=5000)
    issued = issue(user)
    clock.shift(timedelta(seconds=80))
    checked = settlement.verify(issued.code, shop[0], Actor(user=shop[1]))
    clock.shift(timedelta(seconds=70))
    s = settlement.settle(checked.token, shop[0], Actor(user=shop[1]), 2350, "药")
    assert s.total_fen == 2350


def test_same_token_twice_settles_once(app, factory, shop):
    """The second settle with the same token: 该医保码已使用."""
    user = factory.user(balance_fen=5000)
    checked = settlement.verify(issue(user).code, shop[0], Actor(user=shop[1]))
    settlement.settle(checked.token, shop[0], Actor(user=shop[1]), 2350, "药")
    before = money_snapshot()
    err = refused(settlement.settle, checked.token, shop[0], Actor(user=shop[1]), 2350, "药")
    assert (err.code, err.message) == ("used", "该医保码已使用")
    assert money_snapshot() == before


def test_a_second_verify_replaces_the_first_token(app, factory, shop):
    """Scanning again hands out a new token; the older one no longer settles."""
    user = factory.user(balance_fen=5000)
    issued = issue(user)
    first = settlement.verify(issued.code, shop[0], Actor(user=shop[1]))
    second = settlement.verify(issued.code, shop[0], Actor(user=shop[1]))
    assert refused(settlement.settle, first.token, shop[0], Actor(), 100, "药").code == \
        "token_invalid"
    assert settlement.settle(second.token, shop[0], Actor(), 100, "药").total_fen == 100


# ---- amounts and items ------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["0", "0.00", "-1", "-0.01", "1.234", "abc", "", " ", "1e3",
                                  "１２", "12.", ".5", "5000.01", "99999999", "1,000", "NaN",
                                  "١٢"])
def test_bad_amounts_are_refused(app, factory, text):
    """Zero, negative, three decimals, not a number, over the ¥5000 maximum → invalid_amount."""
    pharmacy = factory.pharmacy()
    err = refused(settlement.parse_amount, text, pharmacy)
    assert (err.code, err.field) == ("invalid_amount", "amount")


@pytest.mark.parametrize("text,fen", [("23.5", 2350), ("23.50", 2350), ("0.01", 1),
                                      ("5000", 500000), (" 7 ", 700), ("0.1", 10),
                                      ("19.99", 1999)])
def test_amounts_convert_to_exact_fen(app, factory, text, fen):
    """Decimal, not float: 19.99 → 1999 fen exactly."""
    assert settlement.parse_amount(text, factory.pharmacy()) == fen


@pytest.mark.parametrize("fen", [0, -5, True, 1.5, "100", 500001])
def test_check_amount_refuses_non_fen(app, factory, fen):
    """The API path passes fen directly; only a positive int within the maximum passes."""
    assert refused(settlement.check_amount, fen, factory.pharmacy()).code == "invalid_amount"


def test_settle_refuses_bad_amount_and_items_without_using_the_code(app, factory, shop):
    """Invalid input changes nothing: the same token still settles afterwards."""
    user = factory.user(balance_fen=5000)
    checked = settlement.verify(issue(user).code, shop[0], Actor(user=shop[1]))
    actor = Actor(user=shop[1])
    before = money_snapshot()
    assert refused(settlement.settle, checked.token, shop[0], actor, 0, "药").code == \
        "invalid_amount"
    assert refused(settlement.settle, checked.token, shop[0], actor, 100, "  ").code == \
        "invalid_items"
    assert refused(settlement.settle, checked.token, shop[0], actor, 100, "药" * 201).code == \
        "invalid_items"
    assert refused(settlement.settle, checked.token, shop[0], actor, 100, "药",
                   business_type="99999").code == "invalid_business_type"
    assert money_snapshot() == before
    assert settlement.settle(checked.token, shop[0], actor, 100, "药" * 200).total_fen == 100


# ---- messages, audit, verification card --------------------------------------------------------

def test_patient_and_holders_are_told(app, factory, shop):
    """Patient: 您在…支付¥23.50（个人账户¥20.00，现金¥3.50）; each holder: 张*明在…支付¥23.50."""
    mother, child, binding = family(factory)
    father = factory.user(name="张大山", age=40)
    bind(father.person, child, "child")
    pay(issue(mother, binding.public_id).code, shop)
    to_child = db.session.scalars(
        select(Message).where(Message.recipient_person_id == child.id)).all()
    assert [m.body for m in to_child] == ["您在仁心大药房支付¥23.50（个人账户¥20.00，现金¥3.50）"]
    for holder in (mother.person, father.person):
        bodies = [m.body for m in db.session.scalars(
            select(Message).where(Message.recipient_person_id == holder.id)).all()]
        assert bodies == ["张*明在仁心大药房使用医保支付¥23.50"]
    assert {m.category for m in db.session.scalars(select(Message)).all()} == {"payment"}


def test_settlement_is_audited(app, factory, shop):
    """settlement.create with the split; code.verified for the scan."""
    user = factory.user(balance_fen=2000)
    s = pay(issue(user).code, shop)
    row = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "settlement.create")).one()
    assert (row.target_id, row.subject_person_id, row.actor_user_id) == (
        s.public_id, user.person.id, shop[1].id)
    assert '"cash_fen": 350' in row.detail
    assert db.session.scalar(select(func.count(AuditLog.id))
                             .where(AuditLog.action == "code.verified")) == 1


def test_verification_says_who_showed_the_code(app, factory, shop):
    """本人出示, or 由 李*（母亲）代为出示 for the mother showing her son's code."""
    mother, child, binding = family(factory)
    own = settlement.verify(issue(mother).code, shop[0], Actor(user=shop[1]))
    assert own.shown_by == "本人出示" and own.holder is None
    proxy = settlement.verify(issue(mother, binding.public_id).code, shop[0], Actor(user=shop[1]))
    assert proxy.patient.id == child.id
    assert proxy.shown_by == "由 李*（母亲）代为出示"
    assert proxy.age == 8 and proxy.balance_fen == 2000 and proxy.token
    looked = settlement.lookup(proxy.token, shop[0])
    assert looked.patient.id == child.id and looked.shown_by == proxy.shown_by


def test_status_poll_reports_the_payment(app, client, factory, shop):
    """The code page's poll sees 已支付 ¥23.50 even after the page moved on to a newer code."""
    from tests.test_codes import login

    mother, child, binding = family(factory)
    login(client, mother)
    old = issue(mother, binding.public_id)
    new = issue(mother, binding.public_id)
    pay(old.code, shop)
    body = client.post(f"/code/{binding.public_id}/status",
                       data={"c": [old.code, new.code]}).get_json()
    assert body["state"] == "paid" and body["message"] == "已支付 ¥23.50"
    assert body["pharmacy"] == "仁心大药房"
