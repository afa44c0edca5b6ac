"""编辑 a binding (管理家人 → 编辑): the holder changes the relative's contact phone and relation.

An edit is not a state event — the binding stays 已绑定 — so it is rules only: the binding must
read 已绑定 now, the relation must be one the binding's region allows and plausible by birth
dates (``kinship.services.check_relation``), and the proof material on file must still prove
it (``KinshipRules.materials_for``). Where the region's policy has the proof material reviewed
(Jiangsu, ``review_required``) the relation is what the 医保经办机构 approved, so it is not
editable there: the page says so before the holder types anything, and a posted change is
refused with the way to a new proof (解除绑定, then add again with the material; DESIGN.md has
no 已绑定 → 待审核 step, and a binding that waits for review could not show the code). The rule
is the region's, so it holds for every binding there (one a relative of 16 or older confirmed
is re-added the same way, with a new invitation). Name and ID number are not editable: they
say who the relative *is*; a wrong one is a different person (解除绑定, then add again).

``edit_binding`` spends a face pass of purpose ``PURPOSE``, locks the binding row, refuses when
it changed since the holder saw it (the version they saw), writes one audit row with the old
and new values and tells both sides (``notices`` row ``edit``). A 家庭共济 membership of the
same two people takes the new relation in the same transaction (``webapp.aid.relation``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from webapp import clock
from webapp.accounts.services import MSG_PHONE_FORMAT, PHONE_RE, normalise_phone
from webapp.aid import relation as aid_relation
from webapp.aid.models import AidMember
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, NotFound, command
from webapp.extensions import db
from webapp.face import services as face
from webapp.idnumber import parse_id_number
from webapp.kinship import notices, queries
from webapp.kinship.models import KinshipBinding
from webapp.kinship.services import check_relation
from webapp.kinship.states import HOLDER, BindingStatus
from webapp.kinship.steps import MSG_CHANGED, MSG_NOT_FOUND, rules_of, save
from webapp.masking import mask_name, mask_phone
from webapp.models import InsuredPerson
from webapp.policy import material_label, policy_for, relation_label

PURPOSE = "kinship_edit"
MSG_NOT_ACTIVE = "只有已绑定的家庭成员可以编辑信息"
MSG_UNCHANGED = "您没有修改任何信息"
MSG_MATERIAL = ("您上传的{material}不能证明“{relation}”关系。如果关系填错了，"
                "请解除绑定后重新添加，并上传相应的证明材料")
MSG_REVIEWED = ("{region}的亲情账户关系需凭证明材料经医保经办机构审核，不能直接修改。如果关系填错了，"
                "请解除绑定后重新添加，并上传能证明正确关系的材料（提交后待审核）。")
FIELDS = {"relation": "关系", "phone": "联系电话"}


@dataclass(frozen=True)
class Change:
    """One edited value: field code, its label, old and new (as stored)."""

    field: str
    label: str
    old: str
    new: str

    def shown(self, value: str) -> str:
        """A value in words (relation label, masked phone, 未填写)."""
        if not value:
            return "未填写"
        return relation_label(value) if self.field == "relation" else mask_phone(value)

    @property
    def words(self) -> str:
        """"关系由“父母”改为“子女”"."""
        if self.field == "phone" and not self.new:
            return "已删除联系电话"
        if self.field == "phone" and not self.old:
            return f"联系电话设为{self.shown(self.new)}"
        return f"{self.label}由“{self.shown(self.old)}”改为“{self.shown(self.new)}”"


@dataclass(frozen=True)
class Plan:
    """What saving would change (checked; nothing written)."""

    binding: KinshipBinding
    phone: str
    relation: str
    changes: tuple[Change, ...]
    aid_members: tuple[AidMember, ...] = ()

    @property
    def summary(self) -> str:
        """Every change in one sentence (the messages use it)."""
        words = "，".join(c.words for c in self.changes)
        return words + ("，家庭共济中的关系同步修改" if self.aid_members else "")


def relation_editable(binding: KinshipBinding) -> bool:
    """Whether 编辑 may change the relation: not where the region reviews the proof."""
    return not rules_of(binding).review_required


def in_aid(binding: KinshipBinding) -> bool:
    """Whether the relative is also in the holder's 家庭共济 (its relation follows an edit)."""
    return bool(aid_relation.memberships(binding.holder, binding.member))


def reviewed_text(binding: KinshipBinding) -> str:
    """Why the relation is fixed here and what to do instead (shown and refused with)."""
    return MSG_REVIEWED.format(region=policy_for(binding.region_code).region_name or "本地区")


def is_editable(binding: KinshipBinding) -> bool:
    """Whether the binding reads 已绑定 now (a lapsed one reads 已解除 before the sweep)."""
    return queries.row(binding).state == BindingStatus.ACTIVE


def check_edit(binding: KinshipBinding, phone: str, relation: str) -> Plan:
    """Every rule for changing the binding to this phone and relation (DomainError on its
    field); writes nothing."""
    if not is_editable(binding):
        raise Conflict(MSG_NOT_ACTIVE, code="not_active")
    phone = normalise_phone(phone or "")
    if phone and not PHONE_RE.fullmatch(phone):
        raise DomainError(MSG_PHONE_FORMAT, field="phone", code="phone")
    aid_members: list[AidMember] = []
    if relation != binding.relation:
        check_new_relation(binding, relation)
        aid_members = aid_relation.check(binding.holder, binding.member, relation,
                                         mask_name(binding.member.name))
    changes = tuple(
        Change(name, label, old or "", new)
        for name, label, old, new in (("relation", FIELDS["relation"], binding.relation, relation),
                                      ("phone", FIELDS["phone"], binding.phone, phone))
        if (old or "") != new
    )
    if not changes:
        raise DomainError(MSG_UNCHANGED, code="unchanged")
    return Plan(binding, phone, relation, changes, tuple(aid_members))


def check_new_relation(binding: KinshipBinding, relation: str) -> None:
    """Not a reviewed region; the region's relations, the age order, and the material on
    file must allow it."""
    rules = rules_of(binding)
    if rules.review_required:
        raise DomainError(reviewed_text(binding), field="relation", code="reviewed")
    info = parse_id_number(binding.member.id_number)
    check_relation(binding.holder, info, relation, rules)
    material = binding.material
    if material is None:
        return
    under_age = binding.member.age_on(clock.today()) < rules.self_confirm_age
    if material.material_type not in rules.materials_for(relation, under_age):
        raise DomainError(MSG_MATERIAL.format(material=material_label(material.material_type),
                                              relation=relation_label(relation)),
                          field="relation", code="material")


def lock(binding: KinshipBinding) -> KinshipBinding:
    """The binding row, locked for the transaction and re-read (what committed meanwhile)."""
    locked = db.session.scalar(
        select(KinshipBinding).where(KinshipBinding.id == binding.id)
        .with_for_update().execution_options(populate_existing=True))
    if locked is None:  # pragma: no cover - bindings are never deleted
        raise NotFound(MSG_NOT_FOUND)
    return locked


@command
def edit_binding(binding: KinshipBinding, holder: InsuredPerson, phone: str, relation: str,
                 seen_version: int, actor: Actor) -> Plan:
    """Save the holder's edit: face pass spent, audit row (old → new), both sides told;
    committed. ``seen_version`` is the binding version the holder edited: a binding changed
    since (another edit, ended) is a Conflict and nothing is saved."""
    if binding.holder_person_id != holder.id:
        raise NotFound(MSG_NOT_FOUND)
    binding = lock(binding)
    if binding.version != seen_version:
        raise Conflict(MSG_CHANGED, code="changed")
    plan = check_edit(binding, phone, relation)
    face.consume(holder, PURPOSE)
    binding.phone, binding.relation = plan.phone, plan.relation
    save(binding)
    audit.record("kinship.edited", actor, target=binding, person=binding.member,
                 detail={"changes": {c.field: {"old": c.old, "new": c.new}
                                     for c in plan.changes}})
    aid_relation.follow(list(plan.aid_members), plan.relation, actor)
    notices.send(binding, "edit", HOLDER, what=plan.summary)
    db.session.commit()
    return plan
