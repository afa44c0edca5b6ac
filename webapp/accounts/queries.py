"""What the account pages read: the 注销账户 preview (every relation that will end)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from webapp.aid.states import OPEN_STATES, AidGroupStatus
from webapp.extensions import db
from webapp.kinship.states import OPEN as OPEN_BINDINGS
from webapp.masking import mask_name
from webapp.models import AidGroup, AidMember, InsuredPerson, KinshipBinding
from webapp.policy import relation_label


@dataclass
class ClosurePreview:
    """The relations of a person that closing the account ends."""

    holding: list[KinshipBinding] = field(default_factory=list)  # bindings I hold
    bound_by: list[KinshipBinding] = field(default_factory=list)  # bindings that hold me
    group: AidGroup | None = None  # my 家庭共济 group (已开通)
    group_members: list[AidMember] = field(default_factory=list)  # its open members
    memberships: list[AidMember] = field(default_factory=list)  # my places in others' groups

    @property
    def nothing(self) -> bool:
        """No relation ends (only the account itself closes)."""
        return not (self.holding or self.bound_by or self.group or self.memberships)

    def others(self) -> list[InsuredPerson]:
        """Everyone on the other side, once each, in a stable order."""
        seen: dict[int, InsuredPerson] = {}
        for b in self.holding:
            seen.setdefault(b.member_person_id, b.member)
        for b in self.bound_by:
            seen.setdefault(b.holder_person_id, b.holder)
        for m in self.group_members:
            seen.setdefault(m.person_id, m.person)
        for m in self.memberships:
            seen.setdefault(m.group.owner_person_id, m.group.owner)
        return list(seen.values())


def closure_preview(person: InsuredPerson | None) -> ClosurePreview:
    """Open bindings on both sides, the owned group and its open members, open memberships."""
    preview = ClosurePreview()
    if person is None:
        return preview
    bindings = db.session.scalars(
        select(KinshipBinding)
        .where(or_(KinshipBinding.holder_person_id == person.id,
                   KinshipBinding.member_person_id == person.id),
               KinshipBinding.status.in_(list(OPEN_BINDINGS)))
        .order_by(KinshipBinding.id)).all()
    preview.holding = [b for b in bindings if b.holder_person_id == person.id]
    preview.bound_by = [b for b in bindings if b.member_person_id == person.id]
    preview.group = db.session.scalar(
        select(AidGroup).where(AidGroup.owner_person_id == person.id,
                               AidGroup.status == AidGroupStatus.ACTIVE))
    if preview.group is not None:
        preview.group_members = list(db.session.scalars(
            select(AidMember).where(AidMember.group_id == preview.group.id,
                                    AidMember.status.in_(OPEN_STATES))
            .order_by(AidMember.id)))
    preview.memberships = list(db.session.scalars(
        select(AidMember).join(AidGroup, AidGroup.id == AidMember.group_id)
        .where(AidMember.person_id == person.id, AidMember.status.in_(OPEN_STATES),
               AidGroup.status == AidGroupStatus.ACTIVE)
        .order_by(AidMember.id)))
    return preview


@dataclass(frozen=True)
class Section:
    """One block of the 注销账户 page: what ends, for whom, and what the other side sees."""

    title: str
    rows: list[tuple[str, str]]  # (masked name, relation · state)
    effect: str


def closure_sections(preview: ClosurePreview) -> list[Section]:
    """The relations that end, as the page lists them before the user confirms."""
    out = []
    if preview.holding:
        out.append(Section("我绑定的家人（亲情账户）", [
            (mask_name(b.member.name), f"{relation_label(b.relation)} · {b.status.label}")
            for b in preview.holding],
            "绑定将解除（待确认、待审核的申请将撤回），您将不能再代其出示医保码；对方会收到消息。"))
    if preview.bound_by:
        out.append(Section("绑定我的人", [
            (mask_name(b.holder.name), f"您是对方的{relation_label(b.relation)} · {b.status.label}")
            for b in preview.bound_by],
            "绑定将解除（未确认的邀请将拒绝），对方将不能再代您出示医保码；对方会收到消息。"))
    if preview.group is not None:
        out.append(Section("我开通的家庭共济", [
            (mask_name(m.person.name), f"{relation_label(m.relation)} · {m.status.label}")
            for m in preview.group_members],
            "全部成员将被移出，共济组将关闭，成员将不能再使用您的个人账户余额；每位成员会收到消息。"))
    if preview.memberships:
        out.append(Section("我加入的家庭共济", [
            (mask_name(m.group.owner.name), f"共济人 · {m.status.label}")
            for m in preview.memberships],
            "您将退出对方的家庭共济（未确认的邀请将拒绝），不能再使用对方的个人账户余额；对方会收到消息。"))
    return out
