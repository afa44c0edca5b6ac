"""亲情账户 rules (services/kinship.py): each refusal with its exact message, at the form step
(check_relative) and again at completion (complete_binding, after the state changed)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import kinship_factories as kf
from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.idnumber import make_id_number
from webapp.kinship import letters
from webapp.kinship import services as kinship
from webapp.models import (
    AuditLog,
    CommitmentLetter,
    FaceCheck,
    Invitation,
    KinshipBinding,
    Message,
)

ACTOR = Actor(label="test", ip="203.0.113.9", user_agent="pytest")
NOT_FOUND = "未找到该家庭成员的参保信息，请核对姓名和身份证号"


@pytest.fixture
def holder(factory):
    """A 35-year-old insured holder in Jiangxi (national numbers, more relations)."""
    return factory.person(name="李华", age=35)


def complete(holder, member, relation="child", name=None, material_type=None):
    """Walk the completion step for the member with a face pass, a material and a signature."""
    kf.face_pass(holder)
    if material_type is None:
        material_type = {"child": "birth_cert", "parent": "hukou", "spouse": "marriage_cert"}.get(
            relation, "hukou")
    material = kf.material(holder, material_type)
    try:
        return kinship.complete_binding(
            holder, name if name is not None else member.name, member.id_number, relation,
            material, holder.name, kf.signature_data_url(), ACTOR,
        )
    except DomainError:
        db.session.rollback()
        raise


def bindings_count() -> int:
    return db.session.scalar(select(func.count(KinshipBinding.id)))


def refused(fn, *args, **kwargs) -> DomainError:
    """Call fn expecting a refusal; return it."""
    with pytest.raises(DomainError) as info:
        fn(*args, **kwargs)
    return info.value


# --- rules that cannot change between the steps (checked on both with the same input) -----

PLAUSIBILITY = [
    # (id, member kwargs or "self", relation, field, message)
    ("relation_not_allowed", dict(age=30), "sibling", "relation", "请选择可添加的关系"),
    ("oneself", "self", "child", "id_number", "不能添加本人"),
    ("child_older", dict(age=40), "child", "relation", "子女的年龄应小于您的年龄"),
    ("child_same_birthday", "same_birth", "child", "relation", "子女的年龄应小于您的年龄"),
    ("parent_younger", dict(age=10), "parent", "relation", "父母的年龄应大于您的年龄"),
]


@pytest.mark.parametrize("case", PLAUSIBILITY, ids=[c[0] for c in PLAUSIBILITY])
def test_plausibility_refused_at_form_and_completion(factory, case):
    """Each plausibility rule refuses with its exact message on its field, on both steps."""
    _, member_kw, relation, field, message = case
    holder = factory.person(name="李华", age=35, region="110101")  # national relations only
    if member_kw == "self":
        member = holder
    elif member_kw == "same_birth":
        member = factory.person(name="李同", birth=holder.birth_date)
    else:
        member = factory.person(name="李亲", **member_kw)
    err = refused(kinship.check_relative, holder, member.name, member.id_number, relation)
    assert (err.message, err.field) == (message, field)
    err = refused(complete, holder, member, relation)
    assert err.message == message
    assert bindings_count() == 0


def test_malformed_id_number_gives_the_reason(holder):
    """A bad check character is explained on the ID field."""
    err = refused(kinship.check_relative, holder, "李小明", "360102201501010010", "child")
    assert err.field == "id_number"
    assert err.message == "身份证号校验位错误，请核对"


def test_unknown_id_number_is_not_found(holder):
    """A valid ID number that is not in the registry."""
    number = make_id_number("360102", date(2015, 5, 5), 123)
    err = refused(kinship.check_relative, holder, "李小明", number, "child")
    assert (err.message, err.field) == (NOT_FOUND, "id_number")


# --- rules whose state can change between the form step and completion ---------------------

def test_name_mismatch_at_form_step(holder, factory):
    """Same ID number, different name: not found (and no hint that the number exists)."""
    child = factory.person(name="李小明", age=8)
    err = refused(kinship.check_relative, holder, "李小红", child.id_number, "child")
    assert (err.message, err.field) == (NOT_FOUND, "id_number")


def test_name_changed_in_registry_before_completion(holder, factory):
    """The registry name changed after the form step: completion refuses."""
    child = factory.person(name="李小明", age=8)
    kinship.check_relative(holder, "李小明", child.id_number, "child")
    child.name = "李晓明"
    db.session.commit()
    err = refused(complete, holder, child, "child", name="李小明")
    assert err.message == NOT_FOUND
    assert bindings_count() == 0


def test_not_insured_at_form_step(holder, factory):
    child = factory.person(name="李小明", age=8, status="suspended")
    err = refused(kinship.check_relative, holder, "李小明", child.id_number, "child")
    assert (err.message, err.field) == ("该家庭成员未处于参保状态", "id_number")


def test_insurance_suspended_before_completion(holder, factory):
    child = factory.person(name="李小明", age=8)
    kinship.check_relative(holder, "李小明", child.id_number, "child")
    child.status = "suspended"
    db.session.commit()
    err = refused(complete, holder, child)
    assert err.message == "该家庭成员未处于参保状态"
    assert bindings_count() == 0


@pytest.mark.parametrize("status", ["active", "pending_confirm", "pending_review"])
def test_duplicate_open_binding_at_form_step(holder, factory, status):
    child = factory.person(name="李小明", age=8)
    kf.binding(holder, child, status=status)
    err = refused(kinship.check_relative, holder, "李小明", child.id_number, "child")
    assert (err.message, err.field) == ("该家庭成员已添加，请勿重复添加", "id_number")


def test_duplicate_created_before_completion(holder, factory):
    child = factory.person(name="李小明", age=8)
    kinship.check_relative(holder, "李小明", child.id_number, "child")
    kf.binding(holder, child, status="active")
    err = refused(complete, holder, child)
    assert err.message == "该家庭成员已添加，请勿重复添加"
    assert bindings_count() == 1


@pytest.mark.parametrize("status", ["declined", "expired", "rejected", "ended"])
def test_closed_binding_is_no_duplicate(holder, factory, status):
    """A closed binding does not block adding the person again."""
    child = factory.person(name="李小明", age=8)
    kf.binding(holder, child, status=status)
    assert kinship.check_relative(holder, "李小明", child.id_number, "child").member == child


def _members(factory, holder, statuses):
    for i, status in enumerate(statuses):
        kf.binding(holder, factory.person(name=f"成员{i}", age=5 + i), status=status)


def test_sixth_member_is_refused_pending_counted(holder, factory):
    """Five open bindings (two of them pending) fill the holder's slots."""
    _members(factory, holder, ["active", "active", "active", "pending_confirm", "pending_review"])
    child = factory.person(name="李小明", age=3)
    err = refused(kinship.check_relative, holder, "李小明", child.id_number, "child")
    assert err.message == "您最多可添加5名家庭成员（含待确认、待审核），当前已添加5名"
    assert err.field is None


def test_closed_bindings_do_not_take_a_slot(holder, factory):
    _members(factory, holder, ["active"] * 4 + ["declined", "ended", "expired"])
    child = factory.person(name="李小明", age=3)
    assert kinship.check_relative(holder, "李小明", child.id_number, "child")


def test_fifth_slot_taken_before_completion(holder, factory):
    _members(factory, holder, ["active"] * 4)
    child = factory.person(name="李小明", age=3)
    kinship.check_relative(holder, "李小明", child.id_number, "child")
    kf.binding(holder, factory.person(name="抢先", age=4), status="pending_confirm")
    err = refused(complete, holder, child)
    assert err.message == "您最多可添加5名家庭成员（含待确认、待审核），当前已添加5名"
    assert bindings_count() == 5


def test_third_holder_in_a_month_is_refused(holder, factory):
    """Both parents may bind a child in one month; a third holder may not."""
    child = factory.person(name="李小明", age=8)
    kf.binding(factory.person(name="父亲", age=38), child)
    kf.binding(factory.person(name="母亲", age=36), child, status="declined")
    err = refused(kinship.check_relative, holder, "李小明", child.id_number, "child")
    assert err.message == "该家庭成员本月已被2人添加，请下月再试"
    assert err.field == "id_number"


def test_second_holder_arrives_before_completion(holder, factory):
    child = factory.person(name="李小明", age=8)
    kf.binding(factory.person(name="父亲", age=38), child)
    kinship.check_relative(holder, "李小明", child.id_number, "child")
    kf.binding(factory.person(name="母亲", age=36), child)
    err = refused(complete, holder, child)
    assert err.message == "该家庭成员本月已被2人添加，请下月再试"


def test_holder_already_counted_this_month_may_retry(holder, factory):
    """A holder whose binding was declined this month is not a new holder."""
    child = factory.person(name="李小明", age=8)
    kf.binding(factory.person(name="父亲", age=38), child)
    kf.binding(holder, child, status="declined")
    assert kinship.check_relative(holder, "李小明", child.id_number, "child")


def test_month_is_the_china_calendar_month(holder, factory):
    """Bindings of the previous China month do not count; the month starts at China midnight."""
    child = factory.person(name="李小明", age=8)
    # 2026-02-28 15:30 UTC is 23:30 in China (February); 16:30 UTC is 00:30 on 1 March.
    kf.binding(factory.person(name="父亲", age=38), child, status="ended",
               created_at=datetime(2026, 2, 28, 15, 30))
    mother = factory.person(name="母亲", age=36)
    kf.binding(mother, child, status="ended", created_at=datetime(2026, 2, 28, 16, 30))
    with clock.frozen_at(datetime(2026, 3, 10, 2, 0)):
        assert kinship.holders_this_month(child) == {mother.id}
        assert kinship.check_relative(holder, "李小明", child.id_number, "child")
        kf.binding(factory.person(name="祖母", age=60), child, status="active")
        err = refused(kinship.check_relative, holder, "李小明", child.id_number, "child")
        assert err.message == "该家庭成员本月已被2人添加，请下月再试"


# --- outcomes -----------------------------------------------------------------------------

def test_child_under_16_is_bound_at_once(holder, factory):
    child = factory.person(name="李小明", age=8)
    done = complete(holder, child)
    b = done.binding
    assert done.token is None
    assert (b.status, b.relation, b.region_code) == ("active", "child", "360000")
    assert b.bound_at is not None and b.review_due is None
    assert b.material.material_type == "birth_cert" and b.letter.typed_name == "李华"
    assert db.session.scalar(select(func.count(Invitation.id))) == 0
    titles = {m.recipient_person_id: m.title for m in db.session.scalars(select(Message))}
    assert titles == {holder.id: "已添加家庭成员", child.id: "您已被添加为亲情账户家庭成员"}
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"kinship.letter_signed", "kinship.binding_created",
            "kinship.material_uploaded"} <= actions
    consumed = db.session.scalar(select(FaceCheck.consumed_at))
    assert consumed is not None


def test_letter_keeps_version_hash_name_signature_and_client(holder, factory):
    child = factory.person(name="李小明", age=8)
    letter = complete(holder, child).binding.letter
    text = letters.letter_text("2026-01")
    assert letter.version == "2026-01"
    assert letter.text_sha256 == letters.text_sha256(text)
    assert letter.signature_png.startswith(b"\x89PNG")
    assert (letter.ip, letter.user_agent, letter.typed_name) == ("203.0.113.9", "pytest", "李华")
    assert letter.signed_at is not None


def test_jiangsu_under_16_waits_for_review_skipping_weekends(factory):
    """Jiangsu reviews materials: 3 working days from a Friday is the next Wednesday."""
    with clock.frozen_at(datetime(2026, 3, 6, 2, 0)):  # Friday 10:00 in China
        holder = factory.person(name="王芳", age=33, region="320102")
        child = factory.person(name="王小宝", age=5)
        b = complete(holder, child).binding
        assert b.status == "pending_review"
        assert b.review_due == date(2026, 3, 11)
        assert b.bound_at is None
        titles = [m.title for m in db.session.scalars(
            select(Message).where(Message.recipient_person_id == holder.id))]
        assert titles == ["家庭成员添加申请已提交"]


def test_relative_of_16_or_more_gets_an_invitation(holder, factory):
    """16+ → 待确认 plus exactly one invitation for that person."""
    mother = factory.person(name="张秀英", age=62, male=False)
    done = complete(holder, mother, "parent")
    assert done.binding.status == "pending_confirm"
    assert done.token
    invitations = db.session.scalars(select(Invitation)).all()
    assert len(invitations) == 1
    inv = invitations[0]
    assert (inv.kind, inv.target_id) == ("kinship", done.binding.id)
    assert (inv.inviter_person_id, inv.invitee_person_id) == (holder.id, mother.id)
    assert done.token not in (inv.token_hash or "")


@pytest.mark.parametrize("days_to_birthday,status", [
    (1, "active"), (0, "pending_confirm"), (-1, "pending_confirm"),
])
def test_sixteenth_birthday_counts_as_16(factory, days_to_birthday, status):
    """Born 16 years ago today: 16 on the day, needs own confirmation; a day later: not yet."""
    with clock.frozen_at(datetime(2026, 5, 20, 4, 0)):
        holder = factory.person(name="李华", age=40)
        birth = date(2010, 5, 20) + timedelta(days=days_to_birthday)
        teen = factory.person(name="李青", birth=birth)
        assert complete(holder, teen).binding.status == status


def test_under_16_age_text_names_the_day_they_turn_16(holder, factory):
    with clock.frozen_at(datetime(2026, 1, 10, 4, 0)):
        child = factory.person(name="李小明", birth=date(2011, 3, 1))
        p = kinship.preview(holder, "李小明", child.id_number, "child")
    assert p.age == "未满16周岁，由您上传证明材料直接绑定（将于2027-03-01满16周岁）"
    assert p.insured == "参保中"
    assert p.counter == "已绑定 0/5"
    assert p.materials == "可上传：出生医学证明、户口本"
    assert p.ok and not p.refusal


def test_preview_reveals_nothing_about_unmatched_people(holder, factory):
    """Without the exact name, the preview tells only what the ID number itself says."""
    child = factory.person(name="李小明", age=20, status="suspended")
    p = kinship.preview(holder, "别人", child.id_number, "child")
    assert p.age == "已满16周岁，需本人确认"
    assert p.insured == ""
    assert p.refusal == NOT_FOUND
    assert "李小明" not in str(p.as_json())
    p = kinship.preview(holder, "", child.id_number, "child")
    assert p.insured == "" and p.refusal == ""


def test_material_must_suit_relation_and_age(holder, factory):
    """Under 16 only 出生医学证明 or 户口本 are accepted."""
    child = factory.person(name="李小明", age=8)
    err = refused(complete, holder, child, material_type="id_card")
    assert err.message == "请上传以下材料之一：出生医学证明、户口本"
    assert bindings_count() == 0


def test_face_pass_is_required_and_spent_once(holder, factory):
    child = factory.person(name="李小明", age=8)
    material = kf.material(holder)
    err = refused(kinship.complete_binding, holder, child.name, child.id_number, "child",
                  material, holder.name, kf.signature_data_url(), ACTOR)
    db.session.rollback()
    assert err.message == "请先完成人脸识别"
    assert bindings_count() == 0


def test_refusal_leaves_face_pass_and_nothing_else(holder, factory):
    """A refused completion rolls back: the pass is still usable, no letter, no binding."""
    from webapp.face import services as face

    child = factory.person(name="李小明", age=8, status="suspended")
    refused(complete, holder, child)
    assert face.has_pass(holder, "kinship_add")
    assert db.session.scalar(select(func.count(CommitmentLetter.id))) == 0


@pytest.mark.parametrize("typed,signature,field,message", [
    ("李四", None, "typed_name", "请输入您的真实姓名"),
    ("李华", "blank", "signature", "请在签名区域手写签名"),
    ("李华", "", "signature", "请在签名区域手写签名"),
    ("李华", "data:image/jpeg;base64,AAAA", "signature", "签名格式无效，请重新签名"),
    ("李华", "data:image/png;base64,not-base64!", "signature", "签名格式无效，请重新签名"),
    ("李华", "big", "signature", "签名图片过大，请清除后重新签名"),
])
def test_letter_checks(holder, factory, typed, signature, field, message):
    child = factory.person(name="李小明", age=8)
    kf.face_pass(holder)
    material = kf.material(holder)
    if signature is None:
        signature = kf.signature_data_url()
    elif signature == "blank":
        signature = kf.signature_data_url(blank=True)
    elif signature == "big":
        signature = "data:image/png;base64," + "A" * (300 * 1024)
    err = refused(kinship.complete_binding, holder, child.name, child.id_number, "child",
                  material, typed, signature, ACTOR)
    assert (err.field, err.message) == (field, message)


@pytest.mark.parametrize("day,n,expected", [
    (date(2026, 3, 2), 3, date(2026, 3, 5)),   # Monday → Thursday
    (date(2026, 3, 6), 1, date(2026, 3, 9)),   # Friday → Monday
    (date(2026, 3, 7), 1, date(2026, 3, 9)),   # Saturday → Monday
    (date(2026, 3, 6), 3, date(2026, 3, 11)),  # Friday → Wednesday
    (date(2026, 3, 6), 0, date(2026, 3, 6)),
])
def test_add_working_days(day, n, expected):
    assert kinship.add_working_days(day, n) == expected


def test_every_policy_version_has_its_texts():
    """Each notice/letter version named in policy.json has a content file."""
    from webapp.policy import default_table

    table = default_table()
    for p in [table.default, *table.profiles.values()]:
        assert letters.notice_text(p.kinship.notice_version, p.kinship)
        assert letters.letter_text(p.kinship.letter_version)


def _png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width × height white pixels, written by hand (a few KB, whatever
    the size it declares)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def test_a_signature_declaring_huge_pixels_is_refused_before_decoding(monkeypatch):
    """9000×9000 pixels fit in under 200 KB of PNG: refused from the header, no pixel decoded
    (decoding it took 77 MB of memory for one request before it was refused)."""
    import base64

    from PIL import ImageFile

    from webapp.kinship import letters

    bomb = _png(9000, 9000)
    assert len(bomb) < letters.MAX_SIGNATURE_BYTES
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: decoded.append(self.size) or real_load(self))
    url = "data:image/png;base64," + base64.b64encode(bomb).decode()
    with pytest.raises(DomainError) as err:
        letters.signature_png(url)
    assert err.value.message == "签名格式无效，请重新签名"
    assert decoded == []
    # A pad-sized one is decoded, and refused only for being blank (it is all white).
    with pytest.raises(DomainError) as err:
        letters.signature_png("data:image/png;base64," + base64.b64encode(_png(600, 200)).decode())
    assert err.value.message == "请在签名区域手写签名"
    assert set(decoded) == {(600, 200)}
