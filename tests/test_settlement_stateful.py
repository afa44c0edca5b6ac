"""Random settle / retry / cancel / reversal / late-arrival sequences (hypothesis stateful) over
two members whose 家庭共济 owner pays for both: balances never go negative, the ledger check stays
clean, and the money in the accounts plus what settled purchases took is always the starting sum."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from tests.test_aid_payments import family as aid_family
from tests.test_aid_rules import accept, add
from tests.test_codes import issue
from webapp.audit.services import Actor
from webapp.codes import cancel as cancelling
from webapp.codes import msgids, settlement
from webapp.codes.states import SettlementStatus
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.ledger.check import check
from webapp.models import PersonalAccount, Settlement


def total_money() -> int:
    """What the accounts hold plus what settled (not cancelled) purchases took from them."""
    held = db.session.scalar(select(func.coalesce(func.sum(PersonalAccount.balance_fen), 0)))
    spent = db.session.scalar(select(func.coalesce(
        func.sum(Settlement.account_fen + Settlement.aid_fen), 0))
        .where(Settlement.status == SettlementStatus.SETTLED))
    return int(held) + int(spent)


def test_random_contract_sequences_keep_the_ledger_sound(app, factory):
    owner, son, _ = aid_family(factory, owner_balance=3000)
    daughter = factory.user(name="王小红", age=18, male=False, region="360102", balance_fen=200)
    accept(add(owner.person, daughter.person, "child").member, daughter)
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    actor = Actor(label="pos")
    members = [son, daughter, owner]
    sequence = itertools.count(1)
    start = total_money()

    class Contract(RuleBasedStateMachine):
        """One POS's messages against the shared accounts."""

        def __init__(self) -> None:
            super().__init__()
            self.sent: list[tuple[str, str, int]] = []  # (msgid, token, amount) of settles
            self.lost: list[str] = []  # msgids reversed before they arrived

        def new_msgid(self) -> str:
            return msgids.prefix_of(pharmacy) + "20260501103015" + f"{next(sequence):04d}"

        @rule(who=st.integers(0, 2), amount=st.integers(1, 2500))
        def settle(self, who: int, amount: int) -> None:
            token = settlement.verify(issue(members[who]).code, pharmacy, actor).token
            msgid = self.new_msgid()
            settlement.settle(token, pharmacy, actor, amount, "药", msgid=msgid)
            self.sent.append((msgid, token, amount))

        @rule(pick=st.integers(0, 50))
        def retry(self, pick: int) -> None:
            if not self.sent:
                return
            msgid, token, amount = self.sent[pick % len(self.sent)]
            before = total_money()
            try:
                again = settlement.settle(token, pharmacy, actor, amount, "药", msgid=msgid)
            except DomainError as err:  # purged or reversed messages only
                db.session.rollback()
                assert err.code == "reversed", err.code
                return
            assert again.replayed and again.msgid == msgid
            assert total_money() == before

        @rule(pick=st.integers(0, 50))
        def cancel(self, pick: int) -> None:
            if not self.sent:
                return
            msgid = self.sent[pick % len(self.sent)][0]
            row = db.session.scalar(select(Settlement).where(Settlement.msgid == msgid))
            assert row is not None
            done = cancelling.cancel(row.public_id, pharmacy, actor, "退货",
                                     msgid=self.new_msgid())
            assert done.status == SettlementStatus.CANCELLED

        @rule(pick=st.integers(0, 50), unknown=st.booleans())
        def reverse(self, pick: int, unknown: bool) -> None:
            if unknown or not self.sent:
                lost = self.new_msgid()
                assert cancelling.reverse(self.new_msgid(), lost, pharmacy, actor).settlement \
                    is None
                self.lost.append(lost)
                return
            msgid = self.sent[pick % len(self.sent)][0]
            done = cancelling.reverse(self.new_msgid(), msgid, pharmacy, actor)
            assert done.settlement is not None
            assert done.settlement.status == SettlementStatus.CANCELLED

        @rule(who=st.integers(0, 2), pick=st.integers(0, 50))
        def late_arrival(self, who: int, pick: int) -> None:
            if not self.lost:
                return
            token = settlement.verify(issue(members[who]).code, pharmacy, actor).token
            try:
                settlement.settle(token, pharmacy, actor, 100, "药",
                                  msgid=self.lost[pick % len(self.lost)])
            except DomainError as err:
                db.session.rollback()
                assert err.code == "reversed"
            else:
                raise AssertionError("a reversed msgid was settled")

        @invariant()
        def balances_are_never_negative(self) -> None:
            assert db.session.scalar(select(func.min(PersonalAccount.balance_fen))) >= 0

        @invariant()
        def ledger_check_is_clean(self) -> None:
            assert check() == []

        @invariant()
        def money_is_conserved(self) -> None:
            assert total_money() == start

    # Derandomized: the same 20 sequences every run. Random ones once (CI, stop 17) held no
    # cancel at all in 12 examples and the check below failed with nothing wrong.
    run_state_machine_as_test(Contract, settings=settings(
        max_examples=20, stateful_step_count=12, deadline=None, database=None,
        derandomize=True, suppress_health_check=list(HealthCheck)))
    # The machine really settled, cancelled and reversed (not only empty sequences).
    statuses = set(db.session.scalars(select(Settlement.status)).all())
    assert statuses == {SettlementStatus.SETTLED, SettlementStatus.CANCELLED}
