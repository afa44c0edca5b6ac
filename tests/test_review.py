"""材料审核: the reviewer's queue, the application page, approve / reject with a reason, the
holder's 审核进度 page with 重新提交, messages, and who may see what."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import kinship_factories as kf
from tests.helpers import refused_page
from tests.test_codes import login
from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError
from webapp.extensions import db
from webapp.kinship import services as kinship
from webapp.models import AuditLog, KinshipBinding, KinshipMaterial, Message
from webapp.review import services as review

JIANGSU = "320102"
ACTOR = Actor(ip="127.0.0.1", user_agent="pytest", label="test")


# --- helpers shared by the review / audit tests ------------------------------------------

def jiangsu_family(factory, holder_name="王丽", child_name="王小宝", child_age=5):
    """A Jiangsu holder with an account and her young child in the registry."""
    user = factory.user(name=holder_name, age=34, region=JIANGSU, male=False)
    child = factory.person(name=child_name, age=child_age, region=JIANGSU,
                           insurance_type="resident")
    return user, child


def submit(holder, child, relation="child", material=None) -> KinshipBinding:
    """Create the binding through the wizard's service (face pass, material, signed letter)."""
    kf.face_pass(holder)
    material = material or kf.material(holder, "birth_cert")
    done = kinship.complete_binding(holder, child.name, child.id_number, relation, material,
                                    holder.name, kf.signature_data_url(), ACTOR)
    return done.binding


def pdf_material(owner) -> KinshipMaterial:
    """A PDF proof stored through the real service."""
    from webapp.audit.services import SYSTEM
    from webapp.kinship import materials
    from webapp.policy import policy_for

    rules = policy_for(owner.region_code).kinship
    return materials.store(owner, "hukou", io.BytesIO(kf.pdf_bytes()), ["hukou"],
                           rules.material_formats, rules.material_max_bytes, SYSTEM)


def count(model, **where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def actions(action: str) -> int:
    return count(AuditLog, action=action)


def messages_to(person, title_part: str = "") -> list[Message]:
    rows = db.session.scalars(
        select(Message).filter_by(recipient_person_id=person.id).order_by(Message.id)
    ).all()
    return [m for m in rows if title_part in m.title]


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def family(factory):
    """(holder user, child, pending binding) in Jiangsu."""
    user, child = jiangsu_family(factory)
    return user, child, submit(user.person, child)


@pytest.fixture
def reviewer(factory):
    return factory.staff(role="reviewer", name="审核员刘洋")


# --- the binding the wizard leaves --------------------------------------------------------

def test_jiangsu_child_waits_for_review_with_a_working_day_deadline(app, family):
    user, child, binding = family
    assert binding.status == "pending_review" and binding.status_label == "待审核"
    assert binding.review_due == kinship.add_working_days(clock.today(), 3)
    assert binding.review_due.weekday() < 5
    assert "在" in messages_to(user.person, "申请已提交")[0].body


# --- queue --------------------------------------------------------------------------------

def test_queue_oldest_first_masked(app, client, factory, reviewer):
    start = clock.now()
    clock.freeze(start - timedelta(days=3))
    first_user, first_child = jiangsu_family(factory, "赵敏", "赵小一")
    first = submit(first_user.person, first_child)
    clock.freeze(start)
    second_user, second_child = jiangsu_family(factory, "钱进", "钱小二")
    second = submit(second_user.person, second_child)
    other_user, other_child = jiangsu_family(factory, "孙悦", "孙小三")
    kf.binding(other_user.person, other_child, status="active")  # not in review

    login(client, reviewer)
    r = client.get("/review/")
    page = html(r)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "private, no-store"
    assert page.index("赵*一") < page.index("钱*二")
    assert "孙*三" not in page
    for full in ("赵小一", "钱小二", "赵敏", first_child.id_number, second_child.id_number):
        assert full not in page
    assert f"/review/{first.public_id}" in page and f"/review/{second.public_id}" in page
    assert "共 2 件待审核" in page


def test_reviewer_lands_on_the_queue(client, reviewer):
    login(client, reviewer)
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/review/")


# --- the application page -------------------------------------------------------------------

def test_detail_shows_full_registry_data_material_and_letter(app, client, family, reviewer):
    user, child, binding = family
    login(client, reviewer)
    r = client.get(f"/review/{binding.public_id}")
    page = html(r)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "private, no-store"
    assert "王小宝" in page and child.id_number in page  # the authority checks them in full
    assert "王丽" in page and user.person.id_number in page
    assert "5周岁" in page and "居民医保" in page and "江苏" in page and "子女" in page
    assert f'<img class="rv-material__img" src="/family/materials/{binding.material.public_id}"' \
        in page
    assert f"/family/letters/{binding.letter.public_id}/signature.png" in page
    assert f"/family/letters/{binding.letter.public_id}" in page
    assert "文本校验一致" in page
    assert "审核通过" in page and "材料不清晰" in page and "关系无法证明" in page
    assert "信息不一致" in page and "其他" in page
    # The reviewer can open both files.
    assert client.get(f"/family/materials/{binding.material.public_id}").status_code == 200
    assert client.get(f"/family/letters/{binding.letter.public_id}/signature.png").status_code \
        == 200


def test_pdf_material_is_offered_as_a_link(app, client, factory, reviewer):
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child, material=pdf_material(user.person))
    login(client, reviewer)
    page = html(client.get(f"/review/{binding.public_id}"))
    url = f"/family/materials/{binding.material.public_id}"
    assert f'href="{url}"' in page and "打开 PDF 材料" in page
    assert f'<img class="rv-material__img" src="{url}"' not in page
    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == "application/pdf"


def test_unknown_or_unreviewed_binding_is_404(app, client, factory, reviewer):
    user, child = jiangsu_family(factory)
    plain = kf.binding(user.person, child, status="active")
    login(client, reviewer)
    assert client.get("/review/nope-not-here").status_code == 404
    assert client.get(f"/review/{plain.public_id}").status_code == 404


# --- approve ----------------------------------------------------------------------------------

def test_approve_binds_tells_both_sides_and_audits_once(app, client, family, reviewer):
    user, child, binding = family
    login(client, user)
    r = client.get("/code/")
    assert r.status_code == 200 and "王*宝" not in html(r)  # not showable while 待审核
    assert client.get(f"/code/{binding.public_id}").status_code == 404

    login(client, reviewer)
    r = refused_page(client, client.post(f"/review/{binding.public_id}/decide",
                    data={"approve": "1", "version": binding.version}))
    assert r.status_code == 302 and r.headers["Location"].endswith("/review/")
    db.session.expire_all()
    assert binding.status == "active" and binding.bound_at is not None
    assert binding.reviewer_user_id == reviewer.id and binding.reviewed_at is not None
    assert actions("review.approved") == 1
    row = db.session.scalar(select(AuditLog).filter_by(action="review.approved"))
    assert row.actor_user_id == reviewer.id and row.subject_person_id == child.id
    assert row.target_id == binding.public_id and row.ip
    told = messages_to(user.person, "审核通过")
    assert len(told) == 1 and "已绑定" in told[0].title + told[0].body
    assert told[0].link == f"/review/my/{binding.public_id}"
    assert len(messages_to(child, "您已被添加")) == 1
    assert "王*宝" not in html(client.get("/review/"))

    login(client, user)
    assert "王*宝" in html(client.get("/code/"))
    assert client.get(f"/code/{binding.public_id}").status_code == 200


# --- reject -----------------------------------------------------------------------------------

def test_reject_needs_a_reason_and_other_needs_words(app, client, family, reviewer):
    user, child, binding = family
    login(client, reviewer)
    url = f"/review/{binding.public_id}/decide"
    r = refused_page(client, client.post(url, data={"reject": "1"}))
    assert r.status_code == 400 and "请选择不通过的原因" in html(r)
    r = refused_page(client, client.post(url, data={"reject": "1", "reason": "other", "note": "  "}))
    assert r.status_code == 400 and "选择“其他”时请填写具体原因" in html(r)
    r = refused_page(client, client.post(url, data={"reject": "1", "reason": "made-up"}))
    assert r.status_code == 400
    db.session.expire_all()
    assert binding.status == "pending_review"
    assert actions("review.rejected") == 0 and not messages_to(user.person, "未通过")


@pytest.mark.parametrize("reason,note,expected", [
    ("unclear", "", "材料不清晰"),
    ("relation", "户口本未显示亲属关系页", "关系无法证明：户口本未显示亲属关系页"),
    ("mismatch", "", "信息不一致"),
    ("other", "请上传盖章的出生医学证明", "请上传盖章的出生医学证明"),
])
def test_reject_with_a_reason_the_holder_reads(app, client, family, reviewer, reason, note,
                                              expected):
    user, child, binding = family
    login(client, reviewer)
    r = refused_page(client, client.post(f"/review/{binding.public_id}/decide",
                    data={"reject": "1", "reason": reason, "note": note}))
    assert r.status_code == 302
    db.session.expire_all()
    assert binding.status == "rejected" and binding.reject_reason == expected
    assert binding.status_label == "未通过"
    told = messages_to(user.person, "未通过")
    assert len(told) == 1 and expected in told[0].body
    assert actions("review.rejected") == 1
    login(client, user)
    page = html(client.get(f"/review/my/{binding.public_id}"))
    assert expected in page and "重新提交" in page
    assert client.get(f"/code/{binding.public_id}").status_code == 404


def test_second_decision_is_told_and_changes_nothing(app, client, family, factory, reviewer):
    user, child, binding = family
    other = factory.staff(role="reviewer", name="审核员周")
    version = binding.version
    review.approve(binding.public_id, other, Actor(user=other))
    login(client, reviewer)
    r = refused_page(client, client.post(f"/review/{binding.public_id}/decide",
                    data={"reject": "1", "reason": "unclear", "version": version},
                    follow_redirects=True))
    assert "该申请已由其他审核员处理" in html(r)
    db.session.expire_all()
    assert binding.status == "active" and binding.reviewer_user_id == other.id
    assert actions("review.approved") == 1 and actions("review.rejected") == 0
    with pytest.raises(Conflict) as info:
        review.reject(binding.public_id, reviewer, "unclear", "", ACTOR)
    assert info.value.message == review.ALREADY_DECIDED


def test_decision_on_an_outdated_page_after_resubmission_is_refused(app, client, family,
                                                                   reviewer):
    user, child, binding = family
    seen_version = binding.version
    review.reject(binding.public_id, reviewer, "unclear", "", Actor(user=reviewer))
    new = kf.material(user.person)
    review.resubmit(user.person, binding.public_id, new, ACTOR)
    login(client, reviewer)
    r = refused_page(client, client.post(f"/review/{binding.public_id}/decide",
                    data={"approve": "1", "version": seen_version}, follow_redirects=True))
    assert review.CHANGED in html(r)
    db.session.expire_all()
    assert binding.status == "pending_review"


def test_only_reviewers_decide_in_the_service(app, family):
    user, child, binding = family
    with pytest.raises(DomainError):
        review.approve(binding.public_id, user, ACTOR)
    with pytest.raises(DomainError):
        review.approve(binding.public_id, None, ACTOR)


# --- the holder's side ---------------------------------------------------------------------

def test_holder_sees_the_expected_date_while_waiting(app, client, family):
    user, child, binding = family
    login(client, user)
    r = client.get(f"/review/my/{binding.public_id}")
    page = html(r)
    assert r.status_code == 200
    assert binding.review_due.isoformat() in page and "待审核" in page
    assert "重新提交" not in page
    r = refused_page(client, client.post(f"/review/my/{binding.public_id}", data={"material_type": "birth_cert"},
                    follow_redirects=True))
    assert review.NOT_PENDING_RESUBMIT in html(r)


def test_resubmit_a_new_material_reenters_the_queue(app, client, family, reviewer):
    user, child, binding = family
    old_material = binding.material_id
    review.reject(binding.public_id, reviewer, "unclear", "", Actor(user=reviewer))
    clock.freeze(clock.now() + timedelta(days=2))
    login(client, user)
    r = refused_page(client, client.post(f"/review/my/{binding.public_id}",
                    data={"material_type": "hukou",
                          "file": (io.BytesIO(kf.jpeg_bytes()), "hukou.jpg")},
                    content_type="multipart/form-data"))
    assert r.status_code == 302
    db.session.expire_all()
    assert binding.status == "pending_review" and binding.reject_reason == ""
    assert binding.material_id != old_material and binding.material.material_type == "hukou"
    assert binding.review_due == kinship.add_working_days(clock.today(), 3)
    assert binding.reviewed_at is None and binding.reviewer_user_id is None
    assert binding.letter_id is not None and binding.relation == "child"
    assert db.session.get(KinshipMaterial, old_material) is not None  # kept for the record
    assert actions("kinship.resubmitted") == 1
    assert len(messages_to(user.person, "已重新提交")) == 1
    page = html(client.get(f"/review/my/{binding.public_id}", follow_redirects=True))
    assert "待审核" in page and binding.review_due.isoformat() in page
    login(client, reviewer)
    assert f"/review/{binding.public_id}" in html(client.get("/review/"))


def test_resubmit_refuses_bad_files_and_keeps_the_rejection(app, client, family, reviewer):
    user, child, binding = family
    review.reject(binding.public_id, reviewer, "unclear", "", Actor(user=reviewer))
    login(client, user)
    url = f"/review/my/{binding.public_id}"
    r = refused_page(client, client.post(url, data={"material_type": "birth_cert",
                               "file": (io.BytesIO(b"not a picture at all"), "x.png")},
                    content_type="multipart/form-data"))
    assert r.status_code == 400 and "仅支持JPG、PNG或PDF格式的文件" in html(r)
    r = refused_page(client, client.post(url, data={"material_type": "birth_cert"},
                    content_type="multipart/form-data"))
    assert r.status_code == 400 and "请选择新的证明材料文件" in html(r)
    r = refused_page(client, client.post(url, data={"material_type": "marriage_cert",
                               "file": (io.BytesIO(kf.png_bytes()), "x.png")},
                    content_type="multipart/form-data"))
    assert r.status_code == 400 and "请选择以下材料之一" in html(r)
    db.session.expire_all()
    assert binding.status == "rejected" and count(KinshipMaterial) == 1
    assert actions("kinship.resubmitted") == 0


def test_resubmit_rechecks_the_duplicate_rule(app, client, family, reviewer):
    user, child, binding = family
    review.reject(binding.public_id, reviewer, "unclear", "", Actor(user=reviewer))
    again = submit(user.person, child)  # the holder added the child again meanwhile
    assert again.status == "pending_review"
    login(client, user)
    r = refused_page(client, client.post(f"/review/my/{binding.public_id}",
                    data={"material_type": "birth_cert",
                          "file": (io.BytesIO(kf.png_bytes()), "x.png")},
                    content_type="multipart/form-data"))
    assert r.status_code == 400 and "请勿重复添加" in html(r)
    db.session.expire_all()
    assert binding.status == "rejected"
    # The unused upload was deleted again: only the two bindings' materials remain.
    assert count(KinshipMaterial) == 2


def test_a_child_who_turned_16_cannot_be_resubmitted(app, client, factory, reviewer):
    user, child = jiangsu_family(factory, child_age=15)
    binding = submit(user.person, child)
    review.reject(binding.public_id, reviewer, "unclear", "", Actor(user=reviewer))
    clock.freeze(clock.now() + timedelta(days=400))
    login(client, user)
    page = html(client.get(f"/review/my/{binding.public_id}"))
    assert "已满16周岁" in page and 'type="file"' not in page


def test_holder_pages_are_the_holders_own(app, client, family, factory):
    user, child, binding = family
    stranger = factory.user(name="路人甲", region=JIANGSU)
    login(client, stranger)
    assert client.get(f"/review/my/{binding.public_id}").status_code == 404
    assert refused_page(client, client.post(f"/review/my/{binding.public_id}")).status_code == 404


# --- access --------------------------------------------------------------------------------

REVIEWER_PAGES = [
    ("get", "/review/"),
    ("get", "/review/?tab=done"),
    ("get", "/review/{id}"),
    ("post", "/review/{id}/decide"),
    ("get", "/review/audit"),
    ("get", "/review/audit.csv"),
]


@pytest.mark.parametrize("role", ["insured", "pharmacy"])
def test_non_reviewers_get_403_on_every_reviewer_page(app, client, family, factory, role):
    user, child, binding = family
    login(client, user if role == "insured" else factory.staff(role="pharmacy"))
    for method, path in REVIEWER_PAGES:
        r = getattr(client, method)(path.format(id=binding.public_id), data={"approve": "1"})
        assert r.status_code == 403, (method, path)
    db.session.expire_all()
    assert binding.status == "pending_review"


def test_anonymous_is_sent_to_log_in(app, client, family):
    user, child, binding = family
    for method, path in REVIEWER_PAGES:
        r = getattr(client, method)(path.format(id=binding.public_id))
        assert r.status_code == 302 and "/auth/login" in r.headers["Location"], path


def test_reviewers_are_not_holders(app, client, family, reviewer):
    user, child, binding = family
    login(client, reviewer)
    assert client.get(f"/review/my/{binding.public_id}").status_code == 403
    assert client.get("/review/shown-my-code").status_code == 403


def test_material_files_only_for_their_holder_and_reviewers(app, client, family, factory,
                                                            reviewer):
    user, child, binding = family
    url = f"/family/materials/{binding.material.public_id}"
    letter = f"/family/letters/{binding.letter.public_id}/signature.png"
    login(client, factory.user(name="路人乙"))
    assert client.get(url).status_code == 404
    assert client.get(letter).status_code == 404
    child_user = factory.user(child)  # even the child's own account: the holder's upload
    login(client, child_user)
    assert client.get(url).status_code == 404
    login(client, factory.staff(role="pharmacy"))
    assert client.get(url).status_code == 404
    login(client, user)
    assert client.get(url).status_code == 200
    login(client, reviewer)
    assert client.get(url).status_code == 200
