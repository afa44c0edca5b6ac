"""Settlement under concurrency (PostgreSQL): a code is consumed once; balances hold."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.test_codes import issue
from tests.test_settlement import assert_ledger_matches_balances
from webapp.audit.services import Actor
from webapp.codes import settlement
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.models import LedgerEntry, PersonalAccount, Settlement

pytestmark = pytest.mark.postgres
THREADS = 20


def run_concurrently(app, work) -> list:
    """Run work(i) in THREADS threads released together; each gets its own session."""
    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS

    def worker(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results[i] = work(i)
            except DomainError as err:
                db.session.rollback()
                results[i] = err.code
            except Exception as err:  # noqa: BLE001 - reported by the assertion below
                db.session.rollback()
                results[i] = repr(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


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
