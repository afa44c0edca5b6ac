"""亲情账户 rules: who may be added, the preview shown while typing, and creating a binding.

Every number comes from the policy of the holder's insured region. ``check_relative`` is run
at the form step and again inside ``complete_binding``'s transaction, after row locks on both
people, so that concurrent completions cannot exceed a limit.

The per-month rule ("distinct holders binding one member per calendar month") counts every
binding row created this China calendar month, in any state. Bindings are only ever written
when the holder completes the wizard (drafts live in the session), so every row is a
submitted request: a declined, expired, rejected or ended binding still used up that
holder's place for the month. A holder already counted this month may try again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from sqlalchemy import select

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.face import services as face
from webapp.idnumber import IdInfo, IdNumberError, age_on, date_turning, parse_id_number
from webapp.invitations import services as invitations
from webapp.kinship import letters, notices, queries
from webapp.kinship.models import KinshipBinding, KinshipMaterial
from webapp.kinship.states import BindingStatus
from webapp.kinship.steps import KIND
from webapp.models import InsuredPerson
from webapp.policy import KinshipRules, age_order, material_label, policy_for, relation_label
from webapp.workdays import add_working_days

NOT_FOUND = "未找到该家庭成员的参保信息，请核对姓名和身份证号"


@dataclass(frozen=True)
class Relative:
    """A relative who passed every rule: the registry person and what the policy says."""

    member: InsuredPerson
    relation: str
    under_age: bool
    materials: tuple[str, ...]


@dataclass
class Preview:
    """What the info step says while the ID number is typed (Chinese strings only)."""

    age: str = ""
    insured: str = ""
    counter: str = ""
    materials: str = ""
    refusal: str = ""
    field: str = ""
    ok: bool = False

    def as_json(self) -> dict:
        """The JSON body of the preview endpoint."""
        return asdict(self)


@dataclass(frozen=True)
class Completed:
    """A created binding and, for a relative of 16+, the raw invitation token."""

    binding: KinshipBinding
    token: str | None


def rules_for(holder: InsuredPerson) -> KinshipRules:
    """The kinship section of the policy of the holder's insured region."""
    return policy_for(holder.region_code).kinship


def holders_this_month(member: InsuredPerson, today: date | None = None) -> set[int]:
    """Distinct holders with a binding to the member created this China calendar month."""
    today = today or clock.today()
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    rows = db.session.scalars(
        select(KinshipBinding.holder_person_id)
        .where(
            KinshipBinding.member_person_id == member.id,
            KinshipBinding.created_at >= clock.china_midnight_utc(first),
            KinshipBinding.created_at < clock.china_midnight_utc(following),
        )
        .distinct()
    ).all()
    return set(rows)


def age_text(birth: date, self_confirm_age: int, today: date, review: bool = False) -> str:
    """Age and who confirms, in words (``review``: the region reviews the material first)."""
    if age_on(birth, today) >= self_confirm_age:
        return f"已满{self_confirm_age}周岁，需本人确认"
    turning = date_turning(birth, self_confirm_age)
    how = "提交后待审核，审核通过后绑定" if review else "直接绑定"
    return (f"未满{self_confirm_age}周岁，由您上传证明材料{how}"
            f"（将于{turning.isoformat()}满{self_confirm_age}周岁）")


def materials_text(codes) -> str:
    """"可上传：出生医学证明、户口本"."""
    return "可上传：" + "、".join(material_label(c) for c in codes) if codes else ""


def check_limits(holder: InsuredPerson, member: InsuredPerson, rules: KinshipRules,
                 today: date) -> None:
    """Duplicate, members per holder, holders per member this month."""
    duplicate = db.session.scalar(
        select(KinshipBinding.id).where(
            KinshipBinding.holder_person_id == holder.id,
            KinshipBinding.member_person_id == member.id,
            queries.occupying(clock.now(), today),
        )
    )
    if duplicate:
        raise DomainError("该家庭成员已添加，请勿重复添加", field="id_number", code="duplicate")
    room = queries.room(holder)
    if room.full:
        raise DomainError(
            f"您最多可添加{room.limit}名家庭成员（含待确认、待审核），当前已添加{room.used}名",
            code="max_members",
        )
    holders = holders_this_month(member, today)
    if holder.id not in holders and len(holders) >= rules.max_holders_per_month:
        raise DomainError(
            f"该家庭成员本月已被{rules.max_holders_per_month}人添加，请下月再试",
            field="id_number",
            code="max_holders",
        )


def parse_relative_id(holder: InsuredPerson, id_number: str, today: date) -> IdInfo:
    """A well-formed ID number that is not the holder's own."""
    try:
        info = parse_id_number(id_number, today=today)
    except IdNumberError as err:
        raise DomainError(err.reason, field="id_number", code="id_format") from err
    if info.number == holder.id_number:
        raise DomainError("不能添加本人", field="id_number", code="self")
    return info


def check_relation(holder: InsuredPerson, info: IdInfo, relation: str,
                   rules: KinshipRules) -> None:
    """The relation is allowed by the policy and plausible by birth dates."""
    if relation not in rules.relations:
        raise DomainError("请选择可添加的关系", field="relation", code="relation")
    order = age_order(relation)
    if order == "younger" and not info.birth_date > holder.birth_date:
        raise DomainError(f"{relation_label(relation)}的年龄应小于您的年龄", field="relation",
                          code="younger")
    if order == "older" and not info.birth_date < holder.birth_date:
        raise DomainError(f"{relation_label(relation)}的年龄应大于您的年龄", field="relation",
                          code="older")


def check_identity(info: IdInfo, name: str) -> InsuredPerson:
    """The registry person with this ID number and exactly this name, insured right now."""
    member = registry_person(info.number)
    if member is None or member.name != (name or "").strip():
        raise DomainError(NOT_FOUND, field="id_number", code="not_found")
    if not member.is_active:
        raise DomainError("该家庭成员未处于参保状态", field="id_number", code="not_insured")
    return member


def check_relative(
    holder: InsuredPerson, name: str, id_number: str, relation: str, today: date | None = None
) -> Relative:
    """Every rule for adding this relative; the first failure is a DomainError on its field."""
    today = today or clock.today()
    rules = rules_for(holder)
    info = parse_relative_id(holder, id_number, today)
    check_relation(holder, info, relation, rules)
    member = check_identity(info, name)
    check_limits(holder, member, rules, today)
    under_age = member.age_on(today) < rules.self_confirm_age
    return Relative(member, relation, under_age, tuple(rules.materials_for(relation, under_age)))


def preview(holder: InsuredPerson, name: str, id_number: str, relation: str) -> Preview:
    """What the app already knows while the ID number is typed, without personal data.

    Checks run as far as what was typed allows (the relation once chosen, the registry once
    a name is typed). The insured status is told only when name and ID number match the
    registry, so the preview cannot be used to look people up.
    """
    today = clock.today()
    rules = rules_for(holder)
    out = Preview(counter=queries.room(holder).text)
    try:
        info = parse_relative_id(holder, id_number, today)
        out.age = age_text(info.birth_date, rules.self_confirm_age, today, rules.review_required)
        if relation:
            check_relation(holder, info, relation, rules)
            under_age = info.age_on(today) < rules.self_confirm_age
            out.materials = materials_text(rules.materials_for(relation, under_age))
        if not (name or "").strip():
            return out
        member = registry_person(info.number)
        if member is not None and member.name == name.strip():
            out.insured = member.status_label
        member = check_identity(info, name)
        check_limits(holder, member, rules, today)
    except DomainError as err:
        out.refusal, out.field = err.message, err.field or ""
        return out
    out.ok = bool(relation)
    return out


def registry_person(id_number: str) -> InsuredPerson | None:
    """The registry person with this ID number (None when malformed or unknown)."""
    try:
        number = parse_id_number(id_number).number
    except IdNumberError:
        return None
    return db.session.scalar(select(InsuredPerson).where(InsuredPerson.id_number == number))


def lock_people(*people: InsuredPerson) -> None:
    """Row-lock the people's registry rows in id order (PostgreSQL; a no-op on SQLite)."""
    ids = sorted({p.id for p in people})
    db.session.execute(
        select(InsuredPerson.id)
        .where(InsuredPerson.id.in_(ids))
        .order_by(InsuredPerson.id)
        .with_for_update()
    ).all()


def check_material(holder: InsuredPerson, material: KinshipMaterial | None, relative: Relative):
    """The uploaded material must be the holder's and of a type this relation accepts."""
    if material is None or material.owner_person_id != holder.id:
        raise DomainError("请上传证明材料", field="file", code="material")
    if material.material_type not in relative.materials:
        allowed = "、".join(material_label(c) for c in relative.materials)
        raise DomainError(f"请上传以下材料之一：{allowed}", field="material_type",
                          code="material_type")


def complete_binding(
    holder: InsuredPerson,
    name: str,
    id_number: str,
    relation: str,
    material: KinshipMaterial | None,
    typed_name: str,
    signature_data_url: str,
    actor: Actor,
    phone: str = "",
) -> Completed:
    """Sign the letter and create the binding in one transaction, re-checking every rule
    (``phone``: the relative's contact phone as the form checked it, kept on the binding)."""
    rules = rules_for(holder)
    letters.check_typed_name(holder, typed_name)
    letters.signature_png(signature_data_url)
    member = registry_person(id_number)
    lock_people(holder, *([member] if member else []))
    db.session.expire_all()  # the checks below must see what committed while we waited
    relative = check_relative(holder, name, id_number, relation)
    check_material(holder, material, relative)
    assert material is not None  # check_material refused a missing one
    face.consume(holder, "kinship_add")
    letter = letters.sign(holder, rules.letter_version, typed_name, signature_data_url, actor)
    today = clock.today()
    binding = KinshipBinding(
        holder_person_id=holder.id,
        member_person_id=relative.member.id,
        relation=relation,
        phone=(phone or "")[:20],
        region_code=holder.region_code,
        material_id=material.id,
        letter_id=letter.id,
    )
    if not relative.under_age:
        binding.status = BindingStatus.PENDING_CONFIRM
    elif rules.review_required:
        binding.status = BindingStatus.PENDING_REVIEW
        binding.review_due = add_working_days(today, rules.review_working_days)
    else:
        binding.status = BindingStatus.ACTIVE
        binding.bound_at = clock.now()
    db.session.add(binding)
    db.session.flush()
    token = None
    if binding.status == BindingStatus.PENDING_CONFIRM:
        _, token = invitations.create(KIND, binding.id, holder, relative.member, actor)
    notices.send(binding, "created", binding.status.value,
                 review_due=binding.review_due.isoformat() if binding.review_due else "")
    audit.record("kinship.letter_signed", actor, target=letter, person=holder,
                 detail={"version": letter.version, "sha256": letter.text_sha256})
    audit.record("kinship.binding_created", actor, target=binding, person=relative.member,
                 detail={"status": binding.status, "relation": relation})
    db.session.commit()
    return Completed(binding, token)


def agree_notice(holder: InsuredPerson, version: str, actor: Actor) -> None:
    """The holder agreed to the 家庭成员添加告知书 of this version (audited); committed."""
    audit.record("kinship.notice_agreed", actor, person=holder, detail={"version": version})
    db.session.commit()
