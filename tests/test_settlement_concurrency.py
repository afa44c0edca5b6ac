"""Settlement under concurrency (PostgreSQL): a code is consumed once; balances hold."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import helpers
from tests.test_codes import issue
from tests.test_settlement import assert_ledger_matches_balances
from webapp.audit.services import Actor
from webapp.codes import settlement
from webapp.extensions import db
from webapp.models import LedgerEntry, PersonalAccount, Settlement

pytestmark = pytest.mark.postgres
THREADS = 20


def run_concurrently(app, work) -> list:
    """Run work(i) in THREADS threads released together; each gets its own session."""
    return helpers.run_concurrently(app, THREADS, work)


def test_one_code_settled_by_20_threads_settles_once(pg_app):
    """20 concurrent settles with the same token → exactly one settlement, the rest 'used'."""
    from tests import factories

    pharmacy = factories.pharmacy()
    staff = factories.staff(pharmacy_obj=pharmacy)
    user = factories.user(balance_fen=100000)
    checked = settlement.verify(issue(user).code, pharmacy, Actor(user=staff))
    pharmacy_id, token = pharmacy.id, checked.token
    db.session.remove()

    def work(i: int):
        from webapp.models import Pharmacy

        shop = db.session.get(Pharmacy, pharmacy_id)
        return settlement.settle(token, shop, Actor(label=f"t{i}"), 2350, "药").public_id

    results = run_concurrently(pg_app, work)
    done = [r for r in results if r not in ("used",)]
    assert len(done) == 1, results
    assert results.count("used") == THREADS - 1
    assert db.session.scalar(select(func.count(Settlement.id))) == 1
    assert db.session.scalar(select(PersonalAccount.balance_fen)) == 100000 - 2350
    assert_ledger_matches_balances()


def test_one_code_scanned_and_settled_by_20_threads_settles_once(pg_app):
    """20 counters each verify then settle the same code → exactly one settlement.

    A later verify replaces the token, so losers see token_invalid or used; the last
    successful verify's token is never replaced, so one settle always wins."""
    from tests import factories

    pharmacy = factories.pharmacy()
    user = factories.user(balance_fen=100000)
    code = issue(user).code
    pharmacy_id = pharmacy.id
    db.session.remove()

    def work(i: int):
        from webapp.models import Pharmacy

        shop = db.session.get(Pharmacy, pharmacy_id)
        checked = settlement.verify(code, shop, Actor(label=f"t{i}"))
        return settlement.settle(checked.token, shop, Actor(label=f"t{i}"), 2350, "药").public_id

    results = run_concurrently(pg_app, work)
    assert all(r in ("used", "token_invalid") or len(r) == 16 for r in results), results
    assert db.session.scalar(select(func.count(Settlement.id))) == 1
    assert db.session.scalar(select(func.count(LedgerEntry.id))
                             .where(LedgerEntry.kind == "payment")) == \
        db.session.scalar(select(func.count(Settlement.id)))
    assert_ledger_matches_balances()


def test_20_codes_of_one_account_never_overdraw(pg_app):
    """Balance ¥100.00, 20 concurrent ¥23.50 purchases on 20 codes → the account pays
    exactly ¥100.00 in total, cash the rest, no negative balance, ledger == balance."""
    from tests import factories

    pharmacy = factories.pharmacy()
    staff = factories.staff(pharmacy_obj=pharmacy)
    user = factories.user(balance_fen=10000)
    tokens = [settlement.verify(issue(user).code, pharmacy, Actor(user=staff)).token
              for _ in range(THREADS)]
    pharmacy_id = pharmacy.id
    db.session.remove()

    def work(i: int):
        from webapp.models import Pharmacy

        shop = db.session.get(Pharmacy, pharmacy_id)
        s = settlement.settle(tokens[i], shop, Actor(label=f"t{i}"), 2350, "药")
        return (s.account_fen, s.cash_fen)

    results = run_concurrently(pg_app, work)
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(a for a, _ in results) == 10000
    assert sum(a + c for a, c in results) == THREADS * 2350
    assert db.session.scalar(select(PersonalAccount.balance_fen)) == 0
    assert db.session.scalar(select(func.count(Settlement.id))) == THREADS
    assert_ledger_matches_balances()
    payments = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == "payment").order_by(LedgerEntry.id)).all()
    # Each payment's balance_after is the running balance: 7650, 5300, 2950, 600, 0.
    assert [p.balance_after_fen for p in payments] == [7650, 5300, 2950, 600, 0]


# ---- issue 10: msgid, cancel, reversal under concurrency ----------------------------------------

def _shop_and_user(balance_fen: int = 100000):
    from tests import factories

    pharmacy = factories.pharmacy()
    staff = factories.staff(pharmacy_obj=pharmacy)
    return pharmacy, staff, factories.user(balance_fen=balance_fen)


def _pharmacy(pharmacy_id: int):
    from webapp.models import Pharmacy

    return db.session.get(Pharmacy, pharmacy_id)


def test_20_identical_settles_with_one_msgid_settle_once(pg_app):
    """20 concurrent retries of one message → one settlement, one set of ledger rows, and every
    caller gets that same settlement."""
    from webapp.codes import msgids

    pharmacy, staff, user = _shop_and_user()
    token = settlement.verify(issue(user).code, pharmacy, Actor(user=staff)).token
    pharmacy_id, msgid = pharmacy.id, msgids.new_msgid(pharmacy)
    db.session.remove()

    def work(i: int):
        return settlement.settle(token, _pharmacy(pharmacy_id), Actor(label=f"t{i}"), 2350, "药",
                                 msgid=msgid).public_id

    results = run_concurrently(pg_app, work)
    assert len(set(results)) == 1 and results[0] not in ("used", "msgid_conflict"), results
    assert db.session.scalar(select(func.count(Settlement.id))) == 1
    assert db.session.scalar(select(func.count(LedgerEntry.id))
                             .where(LedgerEntry.kind == "payment")) == 1
    assert db.session.scalar(select(PersonalAccount.balance_fen)) == 100000 - 2350
    assert_ledger_matches_balances()


def test_20_concurrent_cancels_refund_once(pg_app):
    from webapp.codes import cancel as cancelling
    from webapp.ledger.check import check

    pharmacy, staff, user = _shop_and_user()
    token = settlement.verify(issue(user).code, pharmacy, Actor(user=staff)).token
    public_id = settlement.settle(token, pharmacy, Actor(user=staff), 2350, "药").public_id
    pharmacy_id = pharmacy.id
    db.session.remove()

    def work(i: int):
        row = cancelling.cancel(public_id, _pharmacy(pharmacy_id), Actor(label=f"t{i}"), "退货")
        return (row.status.value, row.replayed)

    results = run_concurrently(pg_app, work)
    assert sorted(results) == [("cancelled", False)] + [("cancelled", True)] * (THREADS - 1), \
        results
    assert db.session.scalar(select(func.count(LedgerEntry.id))
                             .where(LedgerEntry.kind == "refund")) == 1
    assert db.session.scalar(select(PersonalAccount.balance_fen)) == 100000
    assert check() == []


def test_cancel_racing_a_reversal_gives_the_money_back_once(pg_app):
    """Half the threads cancel the settlement, half reverse its message: one refund."""
    from webapp.codes import cancel as cancelling
    from webapp.codes import msgids
    from webapp.ledger.check import check

    pharmacy, staff, user = _shop_and_user()
    msgid = msgids.new_msgid(pharmacy)
    token = settlement.verify(issue(user).code, pharmacy, Actor(user=staff)).token
    public_id = settlement.settle(token, pharmacy, Actor(user=staff), 2350, "药",
                                  msgid=msgid).public_id
    pharmacy_id = pharmacy.id
    db.session.remove()

    def work(i: int):
        shop = _pharmacy(pharmacy_id)
        if i % 2:
            return cancelling.cancel(public_id, shop, Actor(label=f"c{i}"), "退货").status.value
        done = cancelling.reverse(msgid[:-4] + f"{9000 + i:04d}", msgid, shop,
                                  Actor(label=f"r{i}"))
        return done.settlement.status.value

    results = run_concurrently(pg_app, work)
    assert results == ["cancelled"] * THREADS, results
    assert db.session.scalar(select(func.count(LedgerEntry.id))
                             .where(LedgerEntry.kind == "refund")) == 1
    assert db.session.scalar(select(PersonalAccount.balance_fen)) == 100000
    assert check() == []
