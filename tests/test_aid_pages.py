"""家庭共济 pages: opening a group, adding members (typed or picked), the invitation pages,
成员列表 / 被绑定列表, remove / leave with confirmation, and access control (404 for strangers)."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests import kinship_factories as kf
from tests.helpers import refused_page
from tests.test_aid_rules import HAINAN, JIANGSU, ZHEJIANG, accept, add, make_owner, open_group
from tests.test_codes import login
from webapp.aid import queries, rules
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.models import AidGroup, AidMember


def html(response) -> str:
    return response.get_data(as_text=True)


def test_pages_need_an_insured_login(app, client, factory):
    assert client.get("/aid/").status_code == 302
    staff = factory.staff()
    login(client, staff)
    for path in ("/aid/", "/aid/joined", "/aid/spending", "/aid/members/add"):
        assert client.get(path).status_code == 403


def test_the_service_tile_leads_here(app):
    from webapp.services_catalog import service_url

    with app.test_request_context():
        assert service_url("aid") == "/aid/"


def test_open_a_group_through_the_pages(app, client, factory):
    user = make_owner(factory, balance_fen=0)
    login(client, user)
    page = html(client.get("/aid/"))
    assert "什么是家庭共济" in page and 'href="/aid/create"' in page
    assert "钱可以共济，卡不能共用" in page
    # the notice step needs a face pass first
    assert client.get("/aid/create/notice").headers["Location"].endswith("/aid/create")
    started = client.post("/aid/create")
    assert re.search(r"/face/[\w-]+$", started.headers["Location"])
    kf.face_pass(user.person, rules.CREATE_PURPOSE)
    assert client.post("/aid/create").headers["Location"].endswith("/aid/create/notice")
    notice = html(client.get("/aid/create/notice"))
    assert "职工医保个人账户家庭共济告知书" in notice and "最多8名成员" in notice
    refused = html(refused_page(client, client.post("/aid/create/notice", data={})))
    assert "请阅读并勾选同意《家庭共济告知书》" in refused
    assert queries.group_of(user.person) is None
    done = client.post("/aid/create/notice", data={"agree": "y"})
    assert done.headers["Location"].endswith("/aid/")
    assert queries.group_of(user.person) is not None
    page = html(client.get("/aid/"))
    assert "家庭共济已开通" in page
    assert "共济成员暂时不能使用您的余额支付" in page and "data-zero-balance" in page
    # a second time: plainly refused
    again = client.get("/aid/create")
    assert again.status_code == 302
    assert "您已创建家庭共济组" in html(client.get("/aid/"))


def test_resident_sees_why_not(app, client, factory):
    user = make_owner(factory, insurance_type="resident", balance_fen=0)
    login(client, user)
    page = html(client.get("/aid/"))
    assert "仅职工医保参保人可以开通家庭共济" in page and 'href="/aid/create"' not in page
    kf.face_pass(user.person, rules.CREATE_PURPOSE)
    assert "仅职工医保参保人可以开通家庭共济" in html(refused_page(client, client.post("/aid/create")))
    assert db.session.scalar(select(AidGroup)) is None


def test_add_a_child_directly_and_an_adult_by_invitation(app, client, factory):
    user = make_owner(factory)
    open_group(user)
    child = factory.person(name="王小明", age=8)
    mother = factory.person(name="李秀英", age=62, male=False)
    login(client, user)
    form = html(client.get("/aid/members/add"))
    assert 'name="starts_on"' not in form  # Jiangxi: no window
    assert "共济成员 0/8（含待确认）" in form
    done = client.post("/aid/members/add", data={"name": "王小明", "id_number": child.id_number,
                                                 "relation": "child"})
    member = db.session.scalar(select(AidMember).where(AidMember.person_id == child.id))
    assert done.headers["Location"].endswith(f"/aid/members/{member.public_id}")
    assert member.status == "active"

    done = client.post("/aid/members/add", data={"name": "李秀英",
                                                 "id_number": mother.id_number.lower(),
                                                 "relation": "parent"})
    pending = db.session.scalar(select(AidMember).where(AidMember.person_id == mother.id))
    page = html(client.get(done.headers["Location"]))
    assert "等待李*英本人确认" in page and 'id="invite-link"' in page and "<svg" in page
    link = re.search(r'id="invite-link" type="text" value="([^"]+)"', page).group(1)
    assert re.fullmatch(r"http://localhost/i/[\w-]+", link)
    # shown once
    again = html(client.get(f"/aid/members/{pending.public_id}"))
    assert 'id="invite-link"' not in again and "重新发送邀请" in again
    assert mother.id_number not in again
    listing = html(client.get("/aid/"))
    assert "李*英（父母）" in listing and "待确认" in listing and "王*明（子女）" in listing


def test_field_errors_show_on_the_form(app, client, factory):
    user = make_owner(factory)
    open_group(user)
    other = factory.person(name="王小芳", age=8, region=ZHEJIANG)
    login(client, user)
    page = html(refused_page(client, client.post("/aid/members/add", data={
        "name": "王小芳", "id_number": other.id_number, "relation": "child"})))
    assert "共济成员须在同一省份参保" in page and 'id="id_number-error"' in page
    page = html(refused_page(client, client.post("/aid/members/add",
                                                 data={"relation": "child"})))
    assert "请输入亲属的姓名" in page and "请输入亲属的身份证号" in page


def test_hainan_form_offers_only_its_relations(app, client, factory):
    user = make_owner(factory, region=HAINAN)
    open_group(user)
    login(client, user)
    form = html(client.get("/aid/members/add"))
    assert 'value="spouse"' in form and 'value="sibling"' not in form
    sister = factory.person(name="王建红", age=30, region=HAINAN, male=False)
    page = html(refused_page(client, client.post("/aid/members/add", data={
        "name": "王建红", "id_number": sister.id_number, "relation": "sibling"})))
    assert "该地区家庭共济不支持该亲属关系" in page


def test_jiangsu_form_sets_window_and_cap(app, client, factory):
    user = make_owner(factory, region=JIANGSU)
    open_group(user)
    kid = factory.person(name="周小华", age=8, region=JIANGSU)
    login(client, user)
    form = html(client.get("/aid/members/add"))
    assert 'name="starts_on"' in form and 'name="monthly_cap"' in form
    from webapp import clock

    today = clock.today().isoformat()
    client.post("/aid/members/add", data={"name": "周小华", "id_number": kid.id_number,
                                          "relation": "child", "starts_on": today,
                                          "ends_on": "2099-12-31", "monthly_cap": "200.5"})
    member = db.session.scalar(select(AidMember).where(AidMember.person_id == kid.id))
    assert member.monthly_cap_fen == 20050 and member.ends_on.isoformat() == "2099-12-31"
    page = html(client.get(f"/aid/members/{member.public_id}"))
    assert "每月限额¥200.50" in page and "保存授权设置" in page
    client.post(f"/aid/members/{member.public_id}/window",
                data={"starts_on": today, "ends_on": "", "monthly_cap": ""})
    db.session.refresh(member)
    assert member.ends_on is None and member.monthly_cap_fen is None


def test_pick_a_bound_relative(app, client, factory):
    user = make_owner(factory)
    open_group(user)
    child = factory.person(name="王小明", age=8)
    binding = kf.binding(user.person, child, "child")
    login(client, user)
    form = html(client.get("/aid/members/add"))
    assert "从亲情账户选择" in form and "王*明（子女）" in form
    picked = html(client.get(f"/aid/members/add?pick={binding.public_id}"))
    assert "data-picked" in picked and child.id_number not in picked
    assert f'value="{binding.public_id}"' in picked
    done = client.post("/aid/members/add", data={"pick": binding.public_id, "relation": "child"})
    assert done.status_code == 302
    assert db.session.scalar(select(AidMember.person_id)) == child.id


def test_invitation_pages_accept_into_the_group(app, client, factory):
    owner = make_owner(factory)
    open_group(owner)
    mother = factory.user(name="李秀英", age=62, male=False)
    added = add(owner.person, mother.person, "parent")
    login(client, mother)
    page = html(client.get(f"/i/{added.token}"))
    assert "家庭共济邀请" in page and "您是王*国的父母" in page
    inv = invitations.latest_for("aid", added.member.id)
    started = refused_page(client, client.post(f"/i/r/{inv.public_id}/accept"))
    assert re.search(r"/face/[\w-]+$", started.headers["Location"])
    kf.face_pass(mother.person, rules.ACCEPT_PURPOSE)
    done = refused_page(client, client.post(f"/i/r/{inv.public_id}/confirm"))
    assert done.headers["Location"].endswith(f"/i/r/{inv.public_id}/done")
    db.session.refresh(added.member)
    assert added.member.status == "active"
    assert "/aid/joined" in html(client.get(done.headers["Location"]))
    joined = html(client.get("/aid/joined"))
    assert "王*国 的家庭共济" in joined and "¥100.00" in joined
    assert 'data-confirm="确定退出王*国的家庭共济吗' in joined


def test_member_leaves_from_the_joined_list(app, client, factory):
    owner = make_owner(factory)
    open_group(owner)
    wife = factory.user(name="陈丽", age=33, male=False)
    member = accept(add(owner.person, wife.person, "spouse").member)
    login(client, wife)
    response = client.post(f"/aid/joined/{member.public_id}/leave")
    assert response.headers["Location"].endswith("/aid/joined")
    db.session.refresh(member)
    assert member.status == "left"
    page = html(client.get("/aid/joined"))  # not 还没有加入: she was in it, and it is listed
    assert "您目前不在任何家庭共济中" in page and "已退出的共济" in page
    assert f"/aid/joined/{member.public_id}/history" in page


def test_owner_removes_with_confirmation(app, client, factory):
    owner = make_owner(factory)
    open_group(owner)
    child = factory.person(name="王小明", age=8)
    member = add(owner.person, child, "child").member
    login(client, owner)
    page = html(client.get(f"/aid/members/{member.public_id}"))
    assert 'data-confirm="确定将王*明移出家庭共济吗' in page and "移除成员" in page
    response = client.post(f"/aid/members/{member.public_id}/remove")
    assert response.headers["Location"].endswith("/aid/")
    db.session.refresh(member)
    assert member.status == "removed"
    assert "已移除" in html(client.get("/aid/"))


def test_strangers_get_404(app, client, factory):
    owner = make_owner(factory)
    open_group(owner)
    wife = factory.user(name="陈丽", age=33, male=False)
    member = accept(add(owner.person, wife.person, "spouse").member)
    stranger = make_owner(factory, name="路人甲")
    open_group(stranger)
    login(client, stranger)
    pid = member.public_id
    assert client.get(f"/aid/members/{pid}").status_code == 404
    for path in (f"/aid/members/{pid}/remove", f"/aid/members/{pid}/resend",
                 f"/aid/members/{pid}/window", f"/aid/joined/{pid}/leave"):
        assert client.post(path).status_code == 404, path
    # the member may not act as owner, nor the owner as member
    login(client, wife)
    assert client.get(f"/aid/members/{pid}").status_code == 404
    assert client.post(f"/aid/members/{pid}/remove").status_code == 404
    login(client, owner)
    assert client.post(f"/aid/joined/{pid}/leave").status_code == 404
    db.session.refresh(member)
    assert member.status == "active"
    # 消费明细 without a group is not someone else's
    login(client, wife)
    assert client.get("/aid/spending").headers["Location"].endswith("/aid/")


def test_full_group_says_so(app, client, factory):
    owner = make_owner(factory)
    open_group(owner)
    for i in range(8):
        add(owner.person, factory.person(name=f"王小{i}", age=3 + i), "child")
    login(client, owner)
    assert "家庭共济成员已达上限（8人）" in html(client.get("/aid/"))
    assert "家庭共济成员已达上限（8人）" in html(client.get("/aid/members/add"))
