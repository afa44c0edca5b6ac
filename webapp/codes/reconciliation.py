"""对账 (3201 对总账 / 3202 对明细账): a pharmacy's China day compared with what its POS counted.

A settlement belongs to the China calendar day of its ``created_at``. Totals of settled
settlements (count, 费用总额, 个人账户, 共济, 现金) are kept apart from the cancelled ones
(count and sum). Every comparison is recorded as a ``Reconciliation`` row with an audit row;
a *matched* 3201 record closes the day: ``is_reconciled`` is what the cancel service asks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, ForeignKey, Index, Select, String, Text, bindparam, case, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp import clock
from webapp.codes.models import Settlement
from webapp.codes.states import SettlementStatus
from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.domain import DomainError
from webapp.extensions import Model, db
from webapp.states import State, status_check, status_column

if TYPE_CHECKING:  # the audit module imports webapp.models, which imports this module
    from webapp.audit.services import Actor

TOTALS = "3201"
DETAILS = "3202"
KINDS = {TOTALS: "对总账", DETAILS: "对明细账"}
FIELDS = ("count", "total_fen", "account_fen", "aid_fen", "cash_fen",
          "cancelled_count", "cancelled_fen")
# The POS may leave the cancelled figures out; they count as zero then.
OPTIONAL_FIELDS = ("cancelled_count", "cancelled_fen")
FIELD_LABELS = {
    "count": "结算笔数", "total_fen": "费用总额", "account_fen": "个人账户",
    "aid_fen": "共济", "cash_fen": "现金", "cancelled_count": "撤销笔数",
    "cancelled_fen": "撤销金额",
}
MAX_DETAIL_ROWS = 10_000
# No settlement predates the app; far-off dates would overflow the UTC day bounds.
EARLIEST_DAY = date(2000, 1, 1)
MAX_NUMBER = 10**15


class ReconciliationResult(State):
    """stmt_rslt of a reconciliation: the two sides agree or they do not."""

    MATCH = "match", "对账一致", "ok"
    MISMATCH = "mismatch", "对账不一致", "bad"


class Reconciliation(PublicIdMixin, CreatedAtMixin, Model):
    """One 3201 / 3202 comparison of a pharmacy's China day: both sides and the result."""

    __tablename__ = "reconciliation"
    __table_args__ = (
        status_check(ReconciliationResult, column="result", name="result"),
        Index("ix_reconciliation_pharmacy_day", "pharmacy_id", "day", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacy.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(4))  # TOTALS or DETAILS
    result: Mapped[ReconciliationResult] = status_column(ReconciliationResult)
    # JSON of the comparison as answered (``as_dict`` of the result).
    detail: Mapped[str] = mapped_column(Text, default="")
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(80), default="")

    pharmacy = relationship("Pharmacy")


@dataclass(frozen=True)
class DayTotals:
    """A day's figures in fen: settled ones, and the cancelled ones apart."""

    day: date
    count: int = 0
    total_fen: int = 0
    account_fen: int = 0
    aid_fen: int = 0
    cash_fen: int = 0
    cancelled_count: int = 0
    cancelled_fen: int = 0

    def as_dict(self) -> dict[str, int]:
        """The FIELDS as a plain dict."""
        return {name: getattr(self, name) for name in FIELDS}


@dataclass(frozen=True)
class FieldDifference:
    """One figure on which the POS and we disagree; ``difference`` = theirs − ours."""

    field: str
    ours: int
    theirs: int

    @property
    def difference(self) -> int:
        """How much the POS counted more (negative: less) than we did."""
        return self.theirs - self.ours

    @property
    def label(self) -> str:
        """The figure's Chinese name."""
        return FIELD_LABELS[self.field]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"field": self.field, "ours": self.ours, "theirs": self.theirs,
                "difference": self.difference}


@dataclass(frozen=True)
class TotalsComparison:
    """The answer to a 3201: both sides, the differing figures, the recorded row."""

    record: Reconciliation
    ours: DayTotals
    theirs: DayTotals
    differences: list[FieldDifference]

    @property
    def matched(self) -> bool:
        """No figure differs."""
        return not self.differences

    @property
    def result(self) -> ReconciliationResult:
        """MATCH or MISMATCH."""
        return _result(self.matched)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready answer."""
        return _totals_answer(self.ours, self.theirs, self.differences)


@dataclass(frozen=True)
class DetailRow:
    """One settlement as a side of a 3202 sees it."""

    settlement_id: str
    amount_fen: int
    state: str


@dataclass(frozen=True)
class DetailDifference:
    """A settlement both sides know, with a different amount or state."""

    settlement_id: str
    ours_amount_fen: int
    theirs_amount_fen: int
    ours_state: str
    theirs_state: str


@dataclass(frozen=True)
class DetailsComparison:
    """The answer to a 3202: what is missing on either side and what differs."""

    record: Reconciliation
    day: date
    missing_ours: list[DetailRow]  # the POS has them, we do not
    missing_theirs: list[DetailRow]  # we have them, the POS does not
    different: list[DetailDifference]

    @property
    def matched(self) -> bool:
        """Nothing missing, nothing different."""
        return not (self.missing_ours or self.missing_theirs or self.different)

    @property
    def result(self) -> ReconciliationResult:
        """MATCH or MISMATCH."""
        return _result(self.matched)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready answer."""
        return _details_answer(self.day, self.missing_ours, self.missing_theirs, self.different)


def _result(matched: bool) -> ReconciliationResult:
    return ReconciliationResult.MATCH if matched else ReconciliationResult.MISMATCH


def _totals_answer(ours: DayTotals, theirs: DayTotals,
                   differences: list[FieldDifference]) -> dict[str, Any]:
    return {"result": _result(not differences).value, "day": ours.day.isoformat(),
            "ours": ours.as_dict(), "theirs": theirs.as_dict(),
            "differences": [d.as_dict() for d in differences]}


def _details_answer(day: date, missing_ours: list[DetailRow], missing_theirs: list[DetailRow],
                    different: list[DetailDifference]) -> dict[str, Any]:
    matched = not (missing_ours or missing_theirs or different)
    return {"result": _result(matched).value, "day": day.isoformat(),
            "missing_ours": [asdict(r) for r in missing_ours],
            "missing_theirs": [asdict(r) for r in missing_theirs],
            "different": [asdict(d) for d in different]}


def invalid(message: str, field: str | None = None) -> DomainError:
    """The 400 error of a request this module cannot compare."""
    return DomainError(message, field=field, code="invalid_reconciliation")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The naive-UTC [start, end) of a China calendar day."""
    return clock.china_midnight_utc(day), clock.china_midnight_utc(day + timedelta(days=1))


def _of_day(pharmacy_id: int, day: date) -> tuple[Any, ...]:
    start, end = day_bounds(day)
    return (Settlement.pharmacy_id == pharmacy_id, Settlement.created_at >= start,
            Settlement.created_at < end)


def day_totals(pharmacy_id: int, day: date) -> DayTotals:
    """The pharmacy's figures of one China day (one query; read only)."""
    settled = Settlement.status == SettlementStatus.SETTLED.value
    cancelled = Settlement.status == SettlementStatus.CANCELLED.value

    def total(column: Any, when: Any) -> Any:
        return func.coalesce(func.sum(case((when, column), else_=0)), 0)

    row = db.session.execute(select(
        total(1, settled), total(Settlement.total_fen, settled),
        total(Settlement.account_fen, settled), total(Settlement.aid_fen, settled),
        total(Settlement.cash_fen, settled), total(1, cancelled),
        total(Settlement.total_fen, cancelled),
    ).where(*_of_day(pharmacy_id, day))).one()
    return DayTotals(day, *(int(v) for v in row))


def check_day(day: Any) -> date:
    """A China day that can be reconciled: not in the future, not before EARLIEST_DAY."""
    if not isinstance(day, date) or isinstance(day, datetime):
        raise invalid("请提供正确的对账日期", field="date")
    if day > clock.today():
        raise invalid("不能对尚未到来的日期对账", field="date")
    if day < EARLIEST_DAY:
        raise invalid(f"对账日期不能早于{EARLIEST_DAY.isoformat()}", field="date")
    return day


def _number(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_NUMBER:
        raise invalid(f"{FIELD_LABELS.get(field, field)}必须是不小于0的整数（金额单位为分）",
                      field=field)
    return value


def _theirs(day: date, theirs: Mapping[str, Any]) -> DayTotals:
    values = {}
    for name in FIELDS:
        if name not in theirs and name in OPTIONAL_FIELDS:
            values[name] = 0
        elif name not in theirs:
            raise invalid(f"缺少{FIELD_LABELS[name]}", field=name)
        else:
            values[name] = _number(theirs[name], name)
    return DayTotals(day, **values)


def _record(pharmacy_id: int, day: date, kind: str, result: ReconciliationResult,
            answer: dict[str, Any], actor: Actor | None) -> Reconciliation:
    """Add the Reconciliation row and its audit row (the caller commits)."""
    from webapp.audit import services as audit
    from webapp.models import Pharmacy

    actor = actor or audit.SYSTEM

    pharmacy = db.session.get(Pharmacy, pharmacy_id)
    if pharmacy is None:
        raise invalid("定点药店不存在", field="pharmacy")
    row = Reconciliation(pharmacy_id=pharmacy_id, day=day, kind=kind, result=result,
                         detail=json.dumps(answer, ensure_ascii=False),
                         staff_user_id=actor.user_id, actor_label=(actor.label or "")[:80])
    db.session.add(row)
    db.session.flush()
    action = "reconciliation.totals" if kind == TOTALS else "reconciliation.details"
    audit.record(action, actor, target=row, detail={
        "pharmacy": pharmacy.code, "day": day.isoformat(), "result": result.value})
    return row


def compare_totals(pharmacy_id: int, day: date, theirs: Mapping[str, Any],
                   actor: Actor | None = None) -> TotalsComparison:
    """3201 对总账: our figures of the day against the POS's; recorded and committed."""
    day = check_day(day)
    their_totals = _theirs(day, theirs)
    ours = day_totals(pharmacy_id, day)
    differences = [FieldDifference(name, getattr(ours, name), getattr(their_totals, name))
                   for name in FIELDS if getattr(ours, name) != getattr(their_totals, name)]
    record = _record(pharmacy_id, day, TOTALS, _result(not differences),
                     _totals_answer(ours, their_totals, differences), actor)
    db.session.commit()
    return TotalsComparison(record, ours, their_totals, differences)


def day_rows(pharmacy_id: int, day: date) -> dict[str, DetailRow]:
    """Every settlement of the day (settled or cancelled) by public id."""
    rows = db.session.execute(
        select(Settlement.public_id, Settlement.total_fen, Settlement.status)
        .where(*_of_day(pharmacy_id, day)).order_by(Settlement.created_at, Settlement.id)
    ).all()
    return {pid: DetailRow(pid, int(fen), str(SettlementStatus(state).value))
            for pid, fen, state in rows}


def _their_rows(rows: Iterable[tuple[str, int, str]]) -> dict[str, DetailRow]:
    out: dict[str, DetailRow] = {}
    states = set(SettlementStatus.values())
    for index, item in enumerate(rows):
        if index >= MAX_DETAIL_ROWS:
            raise invalid(f"明细最多{MAX_DETAIL_ROWS}条", field="rows")
        try:
            settlement_id, amount_fen, state = item
        except (TypeError, ValueError):
            raise invalid("明细格式不正确", field="rows") from None
        if not isinstance(settlement_id, str) or not 0 < len(settlement_id) <= 40:
            raise invalid("结算流水号不正确", field="settlement_id")
        if state not in states:
            raise invalid("结算状态只能是 settled 或 cancelled", field="state")
        if settlement_id in out:
            raise invalid(f"结算流水号重复：{settlement_id}", field="settlement_id")
        out[settlement_id] = DetailRow(settlement_id, _number(amount_fen, "amount_fen"),
                                       str(state))
    return out


def compare_details(pharmacy_id: int, day: date, rows: Iterable[tuple[str, int, str]],
                    actor: Actor | None = None) -> DetailsComparison:
    """3202 对明细账: the POS's list of (settlement id, amount, state) against ours."""
    day = check_day(day)
    theirs = _their_rows(rows)
    ours = day_rows(pharmacy_id, day)
    missing_ours = [row for key, row in theirs.items() if key not in ours]
    missing_theirs = [row for key, row in ours.items() if key not in theirs]
    different = [
        DetailDifference(key, mine.amount_fen, theirs[key].amount_fen, mine.state,
                         theirs[key].state)
        for key, mine in ours.items()
        if key in theirs and (mine.amount_fen, mine.state)
        != (theirs[key].amount_fen, theirs[key].state)
    ]
    answer = _details_answer(day, missing_ours, missing_theirs, different)
    record = _record(pharmacy_id, day, DETAILS, ReconciliationResult(answer["result"]), answer,
                     actor)
    db.session.commit()
    return DetailsComparison(record, day, missing_ours, missing_theirs, different)


def is_reconciled(pharmacy_id: int, day: date) -> bool:
    """Whether a matched 3201 closed the pharmacy's China day (no cancel after it)."""
    return db.session.scalar(_matched_totals(), {"pharmacy_id": pharmacy_id,
                                                  "day": day}) is not None


@cache
def _matched_totals() -> Select:
    """is_reconciled's statement, built once (every cancel asks it)."""
    return select(Reconciliation.id).where(
        Reconciliation.pharmacy_id == bindparam("pharmacy_id"),
        Reconciliation.day == bindparam("day"),
        Reconciliation.kind == TOTALS,
        Reconciliation.result == ReconciliationResult.MATCH.value,
    ).limit(1)


def last_reconciliation(pharmacy_id: int, day: date) -> Reconciliation | None:
    """The newest 3201 of the day (for the 对账 page), matched or not."""
    return db.session.scalar(select(Reconciliation).where(
        Reconciliation.pharmacy_id == pharmacy_id, Reconciliation.day == day,
        Reconciliation.kind == TOTALS,
    ).order_by(Reconciliation.created_at.desc(), Reconciliation.id.desc()).limit(1))
