"""Reading the audit trail: the reviewer's search and CSV export, and a person's own
"谁出示过我的医保码" (who showed my code on my behalf) list.

Names and ID numbers are masked in every result; the full ID number is only ever typed in
as a search term.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import aliased

from webapp import clock
from webapp.accounts.services import PHONE_RE
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.idnumber import IdNumberError, parse_id_number
from webapp.masking import mask_id, mask_name, mask_phone
from webapp.models import ROLES, AuditLog, InsuredPerson, KinshipBinding, User
from webapp.policy import relation_label

PER_PAGE = 20
MAX_EXPORT_ROWS = 100_000
# Chinese names of the actions (unknown ones are shown by their code).
ACTIONS = {
    "account.register": "注册账号",
    "account.login": "登录",
    "account.logout": "退出登录",
    "account.login_failed": "登录失败",
    "face_check.pass": "人脸识别通过",
    "face_check.fail": "人脸识别未通过",
    "kinship.notice_agreed": "同意添加告知书",
    "kinship.material_uploaded": "上传证明材料",
    "kinship.letter_signed": "签署承诺书",
    "kinship.binding_created": "添加家庭成员",
    "kinship.accepted": "确认绑定",
    "kinship.declined": "拒绝绑定",
    "kinship.ended": "解除绑定",
    "kinship.resubmitted": "重新提交审核",
    "material.viewed": "查看证明材料",
    "review.approved": "审核通过",
    "review.rejected": "审核不通过",
    "review.detail_viewed": "查看审核申请（完整身份信息）",
    "code.issued_for_relative": "代家人出示医保码",
    "code.verified": "药店核验医保码",
    "settlement.create": "医保结算",
    "settlement.cancel": "结算撤销",
    "settlement.reversal": "冲正",
    "api.key_used": "接口密钥调用",
    "audit.exported": "导出审计日志",
}
CSV_HEADER = ["时间（北京时间）", "操作", "操作代码", "操作人", "对象类型", "对象编号",
              "相关人员", "相关人员身份证号", "IP", "客户端", "详情"]
# Consecutive code refreshes by one holder closer than this are one "出示".
SHOW_GAP = timedelta(minutes=10)
SHOW_LOOKBACK_DAYS = 180
SHOW_MAX_ROWS = 5_000


def action_label(code: str) -> str:
    """The Chinese name of an action code."""
    return ACTIONS.get(code, code)


@dataclass
class Page:
    """One page of results, shaped like Flask-SQLAlchemy's pagination for the macro."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


# --- the reviewer's search -------------------------------------------------------------

@dataclass
class AuditQuery:
    """What the reviewer searches by; every part is optional."""

    id_number: str = ""
    actor: str = ""
    date_from: date | None = None
    date_to: date | None = None
    action: str = ""

    def is_empty(self) -> bool:
        return not (self.id_number or self.actor or self.date_from or self.date_to
                    or self.action)

    def as_args(self) -> dict:
        """The query as URL arguments (for paging links and the CSV link)."""
        out = {
            "id_number": self.id_number,
            "actor": self.actor,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "action": self.action,
        }
        return {k: v for k, v in out.items() if v}


@dataclass
class AuditRow:
    """One audit row as the page and the CSV show it (masked)."""

    at: datetime
    action: str
    action_label: str
    actor: str
    target_type: str
    target_id: str
    subject_name: str
    subject_id: str
    ip: str
    user_agent: str
    detail: str
    detail_items: list[tuple[str, str]] = field(default_factory=list)

    @property
    def china_time(self) -> str:
        return clock.china_time(self.at, "%Y-%m-%d %H:%M:%S")


def check_query(query: AuditQuery) -> AuditQuery:
    """Normalise and validate the search terms (DomainError on the field)."""
    query.id_number = (query.id_number or "").strip().replace(" ", "").upper()
    query.actor = (query.actor or "").strip()[:80]
    query.action = (query.action or "").strip()[:60]
    if query.id_number:
        try:
            query.id_number = parse_id_number(query.id_number).number
        except IdNumberError as err:
            raise DomainError(err.reason, field="id_number", code="id_format") from err
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise DomainError("结束日期不能早于开始日期", field="date_to", code="dates")
    return query


ActorPerson = aliased(InsuredPerson)


def _statement(query: AuditQuery):
    """SELECT (AuditLog, actor User, actor's person, subject person) matching the query."""
    stmt = (
        select(AuditLog, User, ActorPerson, InsuredPerson)
        .outerjoin(User, User.id == AuditLog.actor_user_id)
        .outerjoin(ActorPerson, ActorPerson.id == User.person_id)
        .outerjoin(InsuredPerson, InsuredPerson.id == AuditLog.subject_person_id)
    )
    if query.id_number:
        person_id = db.session.scalar(
            select(InsuredPerson.id).where(InsuredPerson.id_number == query.id_number)
        )
        if person_id is None:
            stmt = stmt.where(false())
        else:
            # What happened to the person, and what they did themselves.
            stmt = stmt.where(or_(AuditLog.subject_person_id == person_id,
                                  ActorPerson.id == person_id))
    if query.actor:
        term = query.actor
        user_ids = select(User.id).where(or_(User.phone == term, User.display_name == term))
        conditions = [AuditLog.actor_user_id.in_(user_ids), AuditLog.actor_label.contains(term)]
        if PHONE_RE.match(term):  # failed logins keep only the masked phone
            conditions.append(AuditLog.actor_label == mask_phone(term))
        stmt = stmt.where(or_(*conditions))
    if query.date_from:
        stmt = stmt.where(AuditLog.created_at >= clock.china_midnight_utc(query.date_from))
    if query.date_to:
        end = clock.china_midnight_utc(query.date_to + timedelta(days=1))
        stmt = stmt.where(AuditLog.created_at < end)
    if query.action:
        stmt = stmt.where(AuditLog.action == query.action)
    return stmt


def _actor_text(row: AuditLog, user: User | None, actor_person: InsuredPerson | None) -> str:
    if user is None:
        return row.actor_label or "系统"
    if actor_person is not None:
        return f"{mask_name(actor_person.name)}（{mask_phone(user.phone)}）"
    role = ROLES.get(user.role, user.role)
    return f"{user.display_name or role}（{role}，{mask_phone(user.phone)}）"


def _detail_items(text: str) -> list[tuple[str, str]]:
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [("", text)]
    if not isinstance(data, dict):
        return [("", str(data))]
    return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
            for k, v in data.items()]


def _row(log: AuditLog, user, actor_person, subject) -> AuditRow:
    return AuditRow(
        at=log.created_at,
        action=log.action,
        action_label=action_label(log.action),
        actor=_actor_text(log, user, actor_person),
        target_type=log.target_type,
        target_id=log.target_id,
        subject_name=mask_name(subject.name) if subject else "",
        subject_id=mask_id(subject.id_number) if subject else "",
        ip=log.ip,
        user_agent=log.user_agent,
        detail=log.detail,
        detail_items=_detail_items(log.detail),
    )


def search(query: AuditQuery, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of matching rows, newest first."""
    query = check_query(query)
    stmt = _statement(query)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    rows = db.session.execute(
        stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page([_row(*r) for r in rows], page, per_page, total)


def known_actions() -> list[tuple[str, str]]:
    """(code, label) of every action recorded so far plus the named ones, for the filter."""
    seen = set(db.session.scalars(select(AuditLog.action).distinct()).all())
    codes = sorted(set(ACTIONS) | seen)
    return [(c, action_label(c)) for c in codes]


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    value = "" if value is None else str(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(query: AuditQuery, actor: Actor) -> Iterator[str]:
    """The matching rows as CSV text chunks: UTF-8 BOM first (Excel), China time, masked.

    The export itself is audited (one row, committed before the first chunk).
    """
    query = check_query(query)
    audit.record("audit.exported", actor, detail={"query": query.as_args()})
    db.session.commit()
    stmt = (
        _statement(query)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(MAX_EXPORT_ROWS)
        .execution_options(yield_per=500)
    )

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_HEADER)
        yield "\ufeff" + _drain(buffer)
        for n, result in enumerate(db.session.execute(stmt), start=1):
            r = _row(*result)
            writer.writerow([_cell(v) for v in (
                r.china_time, r.action_label, r.action, r.actor, r.target_type, r.target_id,
                r.subject_name, r.subject_id, r.ip, r.user_agent, r.detail,
            )])
            if n % 200 == 0:
                yield _drain(buffer)
        yield _drain(buffer)

    return generate()


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate(0)
    return text


# --- 谁出示过我的医保码 -------------------------------------------------------------------

@dataclass
class CodeShow:
    """One 出示 of my code by a holder: a run of code refreshes close together."""

    holder_name: str  # masked
    relation: str
    first_at: datetime
    last_at: datetime
    count: int


def code_shows(person: InsuredPerson, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Who showed the person's 医保码 on their behalf, newest first (masked holder names).

    Built from the 'code.issued_for_relative' audit rows whose subject is the person; a
    code page refreshes every minute, so refreshes by one holder less than SHOW_GAP apart
    count as one 出示.
    """
    since = clock.now() - timedelta(days=SHOW_LOOKBACK_DAYS)
    Holder = aliased(InsuredPerson)
    rows = db.session.execute(
        select(AuditLog.created_at, AuditLog.actor_user_id, Holder.name,
               KinshipBinding.relation)
        .outerjoin(KinshipBinding, (AuditLog.target_type == "KinshipBinding")
                   & (KinshipBinding.public_id == AuditLog.target_id))
        .outerjoin(User, User.id == AuditLog.actor_user_id)
        .outerjoin(Holder, Holder.id == User.person_id)
        .where(
            AuditLog.action == "code.issued_for_relative",
            AuditLog.subject_person_id == person.id,
            AuditLog.created_at >= since,
        )
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(SHOW_MAX_ROWS)
    ).all()
    shows: list[CodeShow] = []
    last_by: dict = {}
    for at, user_id, holder_name, relation in rows:
        current = last_by.get(user_id)
        if current is not None and current.first_at - at <= SHOW_GAP:
            current.first_at = at
            current.count += 1
            continue
        show = CodeShow(
            holder_name=mask_name(holder_name) if holder_name else "已注销用户",
            relation=relation_label(relation) if relation else "",
            first_at=at,
            last_at=at,
            count=1,
        )
        shows.append(show)
        last_by[user_id] = show
    total = len(shows)
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    start = (page - 1) * per_page
    return Page(shows[start:start + per_page], page, per_page, total)
