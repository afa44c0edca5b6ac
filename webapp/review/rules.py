"""Material review rules: working-day deadlines, how long an application has waited, the
rejection reasons, and what a resubmitted material may be (no writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from webapp import clock
from webapp.domain import DomainError
from webapp.kinship import services as kinship
from webapp.models import KinshipBinding
from webapp.policy import policy_for
from webapp.workdays import calendar_known, working_days_between

# Reasons a reviewer picks from (code → the words the holder reads); 'other' needs a text.
REJECT_REASONS = {
    "unclear": "材料不清晰",
    "relation": "关系无法证明",
    "mismatch": "信息不一致",
    "other": "其他",
}
OTHER = "other"
NOTE_MAX = 200
ALREADY_DECIDED = "该申请已由其他审核员处理"
CHANGED = "该申请的材料已更新，请查看最新材料后再审核"
WITHDRAWN = "该申请已撤销或已失效，无需审核"
NOT_PENDING_RESUBMIT = "该申请当前无需重新提交"


# --- working days (webapp.workdays: China's holidays and make-up days) ---------------------

def review_days(binding: KinshipBinding) -> int:
    """The policy's review deadline in working days for the binding's region."""
    return policy_for(binding.region_code).kinship.review_working_days


def due_date(binding: KinshipBinding) -> date:
    """The expected decision date (review_due; from the creation day if it was never set)."""
    if binding.review_due is not None:
        return binding.review_due
    created = clock.to_china(binding.created_at).date()
    return kinship.add_working_days(created, review_days(binding))


@dataclass(frozen=True)
class Waiting:
    """How long a pending binding has waited against its deadline, in working days."""

    due: date
    limit: int  # the policy's working days
    waited: int  # working days since it was (re)submitted
    left: int  # working days until the due date (negative once overdue)
    estimated: bool = False  # a day counted lies in a year without a holiday arrangement

    @property
    def overdue(self) -> bool:
        """Past the due date."""
        return self.left < 0

    @property
    def label(self) -> str:
        """"已等待 1/3 个工作日" or "已超期 2 个工作日"."""
        if self.overdue:
            return f"已超期 {-self.left} 个工作日"
        return f"已等待 {self.waited}/{self.limit} 个工作日"


def waiting(binding: KinshipBinding, today: date | None = None) -> Waiting:
    """Waited and remaining working days of a pending binding on ``today`` (China date).

    Because rest days (weekends, public holidays) are never counted, the working days waited
    since submission equal the policy's limit minus the working days still left until the due
    date. ``estimated`` is set when today or the due date lies in a year whose holiday
    arrangement the calendar does not know (Monday to Friday are counted there).
    """
    today = today or clock.today()
    due = due_date(binding)
    limit = review_days(binding)
    left = working_days_between(today, due)
    estimated = not (calendar_known(today) and calendar_known(due))
    return Waiting(due=due, limit=limit, waited=max(limit - left, 0), left=left,
                   estimated=estimated)


# --- deciding ------------------------------------------------------------------------------

def reason_text(reason: str, note: str = "") -> str:
    """The reason the holder reads: the chosen label, or the reviewer's own words for 其他."""
    note = (note or "").strip()
    if reason not in REJECT_REASONS:
        raise DomainError("请选择不通过的原因", field="reason", code="reason")
    if reason == OTHER:
        if not note:
            raise DomainError("选择“其他”时请填写具体原因", field="note", code="note_required")
        return note[:NOTE_MAX]
    label = REJECT_REASONS[reason]
    return f"{label}：{note[:NOTE_MAX]}" if note else label


@dataclass(frozen=True)
class ResubmitRules:
    """What a new material for this binding may be."""

    materials: tuple[str, ...]
    formats: tuple[str, ...]
    max_bytes: int
    review_working_days: int


def resubmit_rules(binding: KinshipBinding, today: date | None = None) -> ResubmitRules:
    """Material types, formats and size allowed for the binding's relation and region.

    A relative who has turned the self-confirm age since cannot be bound on material alone.
    """
    today = today or clock.today()
    rules = policy_for(binding.region_code).kinship
    if binding.member.age_on(today) >= rules.self_confirm_age:
        raise DomainError(
            f"该家庭成员已满{rules.self_confirm_age}周岁，需重新添加并由本人确认",
            code="now_adult",
        )
    return ResubmitRules(
        materials=tuple(rules.materials_for(binding.relation, True)),
        formats=tuple(rules.material_formats),
        max_bytes=rules.material_max_bytes,
        review_working_days=rules.review_working_days,
    )


