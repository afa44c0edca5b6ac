"""The 亲情账户 pages: states with their labels, masked names and IDs, the actions that fit
each state, 绑定我的人, and that nobody can see or act on someone else's binding."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import kinship_factories as kf
from tests import lifecycle_factories as lf
from webapp import clock
from webapp.extensions import db
from webapp.kinship import services as kinship
from webapp.models import KinshipBinding


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def holder(factory):
    return factory.user(name="张建国", age=42)


def people(factory):
    return {
        "active": factory.person(name="张小明", age=8),
        "pending_confirm": factory.person(name="王秀英", age=68, male=False),
        "pending_review": factory.person(name="张小红", age=6, male=False),
        "declined": factory.person(name="张国庆", age=70),
        "expired": factory.person(name="李美华", age=39, male=False),
        "rejected": factory.person(name="张小军", age=9),
        "ended": factory.person(name="张小华", age=12, male=False),
        "self_confirm": factory.person(name="张晓东", age=16),
    }


def every_state(holder, factory) -> dict[str, KinshipBinding]:
    """One binding of the holder in each state (plus 待本人确认)."""
    rel = {"pending_confirm": "parent", "declined": "parent", "expired": "spouse"}
    made = {}
    for state, member in people(factory).items():
        status = "active" if state == "self_confirm" else state
        if state == "pending_confirm":
            made[state], _, _ = lf.invited(holder.person, member, "parent")
            continue
        b = lf.binding(holder.person, member, rel.get(state, "child"), status=status)
        if state == "self_confirm":
            b.self_confirm_due = clock.today() + timedelta(days=20)
            db.session.commit()
        made[state] = b
    return made


LABELS = {"active": "已绑定", "pending_confirm": "待确认", "pending_review": "待审核",
          "declined": "已拒绝", "expired": "已过期", "rejected": "未通过", "ended": "已解除",
          "self_confirm": "待本人确认"}


def test_family_page_lists_every_state_with_its_label_and_masked_names(client, holder, factory):
    made = every_state(holder, factory)
    lf.login(client, holder)
    page = html(client.get("/family/"))
    assert "亲情账户：可代家人出示医保码，费用由家人本人账户支付。" in page.replace(
        "<strong>", "").replace("</strong>", "")
    assert "家庭共济：家人可使用您的个人账户余额支付，钱可以共济，卡不能共用。" in page.replace(
        "<strong>", "").replace("</strong>", "")
    assert 'href="/aid/' in page
    assert 'href="/family/add/"' in page and "添加家庭成员" in page
    assert "我的家庭成员（4/5）" in page
    for state, b in made.items():
        member = b.member
        cell = page[page.index(f"/family/members/{b.public_id}"):]
        cell = cell[:cell.index("</a>")]
        assert LABELS[state] in cell, state
        assert kf_mask(member.name) in cell and member.name not in page
        assert member.id_number[:4] + "**********" + member.id_number[-4:] in cell
        assert member.id_number not in page
    # Row ids never appear in links, only opaque public ids.
    assert "/family/members/1\"" not in page


def kf_mask(name: str) -> str:
    return name[0] + "*" * (len(name) - 2) + name[-1]


def test_empty_states(client, factory):
    user = factory.user(name="孙立新", age=30)
    lf.login(client, user)
    page = html(client.get("/family/"))
    assert "还没有添加家庭成员" in page and "我的家庭成员（0/5）" in page
    assert "目前没有人绑定您" in html(client.get("/family/bound-me"))


def test_family_page_shows_a_waiting_invitation_to_me(client, factory):
    me = factory.user(name="王秀英", age=68, male=False)
    son = factory.person(name="张建国", age=42)
    lf.invited(son, me.person, "parent")
    lf.login(client, me)
    page = html(client.get("/family/"))
    assert "1条待确认" in page


def test_member_page_actions_fit_the_state(client, holder, factory):
    made = every_state(holder, factory)
    lf.login(client, holder)

    def page(state):
        return html(client.get(f"/family/members/{made[state].public_id}"))

    active = page("active")
    assert 'data-confirm="确定解除与张*明的绑定吗？解除后将无法代其出示医保码。"' in active
    assert "解除绑定" in active and "出示医保码" in active and "重新发送邀请" not in active
    assert "张小明" not in active
    pending = page("pending_confirm")
    assert "重新发送邀请" in pending and "撤回邀请" in pending and "解除绑定" not in pending
    assert "邀请有效期至" in pending
    review = page("pending_review")
    assert "撤回申请" in review
    for state in ("declined", "expired", "ended"):
        text = page(state)
        assert "重新添加" in text and "解除绑定" not in text and "重新发送邀请" not in text
    assert "待本人确认" in page("self_confirm") and "重新发送邀请" in page("self_confirm")


def test_member_page_links_the_signed_letter(client, holder, factory):
    child = factory.person(name="张小明", age=8)
    kf.face_pass(holder.person)
    done = kinship.complete_binding(holder.person, child.name, child.id_number, "child",
                                    kf.material(holder.person), holder.person.name,
                                    kf.signature_data_url(), lf.ACTOR)
    lf.login(client, holder)
    page = html(client.get(f"/family/members/{done.binding.public_id}"))
    letter_url = f"/family/letters/{done.binding.letter.public_id}"
    assert letter_url in page and "查看承诺书" in page
    assert client.get(letter_url).status_code == 200


# --- nobody else -------------------------------------------------------------------------

def test_a_foreign_user_can_neither_see_nor_act(client, holder, factory):
    made = every_state(holder, factory)
    stranger = factory.user(name="赵无关", age=33)
    lf.login(client, stranger)
    before = lf.snapshot()
    for b in made.values():
        assert client.get(f"/family/members/{b.public_id}").status_code == 404
        assert client.post(f"/family/members/{b.public_id}/end").status_code == 404
        assert client.post(f"/family/members/{b.public_id}/resend").status_code == 404
        assert client.post(f"/family/bound-me/{b.public_id}/end").status_code == 404
    page = html(client.get("/family/"))
    assert "张*明" not in page and "张建国" not in page
    assert lf.snapshot() == before


def test_holder_and_member_each_use_only_their_own_side(client, holder, factory):
    parent = factory.user(name="王秀英", age=68, male=False)
    b = lf.binding(holder.person, parent.person, "parent")
    lf.login(client, holder)
    before = lf.snapshot()
    assert client.post(f"/family/bound-me/{b.public_id}/end").status_code == 404
    lf.login(client, parent)
    assert client.get(f"/family/members/{b.public_id}").status_code == 404
    assert client.post(f"/family/members/{b.public_id}/end").status_code == 404
    assert lf.snapshot() == before


def test_staff_and_anonymous(client, factory):
    lf.login(client, factory.staff(role="reviewer"))
    assert client.get("/family/").status_code == 403
    assert client.get("/family/bound-me").status_code == 403
    lf.logout(client)
    response = client.get("/family/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_actions_need_the_csrf_token(app, client, holder, factory):
    child = factory.person(name="张小明", age=8)
    b = lf.binding(holder.person, child)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        lf.login(client, holder)
        response = client.post(f"/family/members/{b.public_id}/end")
        assert response.status_code in (302, 400)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).status == "active"


def test_withdrawing_what_became_active_meanwhile_changes_nothing(client, holder, factory):
    """The page showed 待确认; the relative accepted before the holder pressed 撤回邀请."""
    mother = factory.person(name="王秀英", age=68, male=False)
    b = lf.binding(holder.person, mother, "parent")
    lf.login(client, holder)
    before = lf.snapshot()
    response = client.post(f"/family/members/{b.public_id}/end",
                           data={"expect": "pending_confirm"})
    assert response.status_code == 302
    assert lf.snapshot() == before
    assert "绑定状态已变化" in html(client.get(response.headers["Location"]))
