"""The audit trail: every sensitive action leaves exactly one row; the reviewer's 审计日志
search and CSV export; a person's "谁出示过我的医保码"."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests import kinship_factories as kf
from tests.factories import PASSWORD
from tests.test_codes import bind, issue, login
from tests.test_pharmacy_pages import confirm, presettle
from tests.test_review import jiangsu_family, submit
from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.extensions import db
from webapp.kinship import lifecycle
from webapp.models import AuditLog
from webapp.review import services as review


def rows(action: str) -> int:
    return db.session.scalar(select(func.count(AuditLog.id)).filter_by(action=action)) or 0


def html(response) -> str:
    return response.get_data(as_text=True)


# =============================================================================================
# Every sensitive action leaves exactly one audit row.
#
# Each step prepares what the action needs and returns a callable doing the action once (over
# HTTP where the app has a page for it); the test counts that action's rows around the call.
# =============================================================================================

STEPS = {}
# Where each action is recorded, named in the failure message so the fix is one look away.
OWNERS = {
    "account.login": "webapp/accounts/services.py authenticate()",
    "account.logout": "webapp/accounts/services.py logout() / blueprints/auth/routes.py logout()",
    "account.login_failed": "webapp/accounts/services.py authenticate()",
    "face_check.pass": "webapp/face/services.py submit()",
    "face_check.fail": "webapp/face/services.py submit()",
    "kinship.binding_created": "webapp/kinship/services.py complete_binding()",
    "kinship.accepted": "webapp/kinship/lifecycle.py KinshipInvitations.accepted()",
    "kinship.declined": "webapp/kinship/lifecycle.py KinshipInvitations.declined()",
    "kinship.ended": "webapp/kinship/lifecycle.py (解除绑定)",
    "material.viewed": "webapp/blueprints/family/wizard.py material_file() / "
                       "webapp/kinship/materials.py file_for()",
    "code.issued_for_relative": "webapp/codes/services.py issue_code()",
    "settlement.create": "webapp/codes/settlement.py _settle()",
    "review.approved": "webapp/review/services.py approve()",
    "review.rejected": "webapp/review/services.py reject()",
    "api.key_used": "webapp/api/keys.py record_use() and the API blueprint",
}


def step(action: str):
    def register(fn):
        STEPS[action] = fn
        return fn
    return register


@step("account.login")
def _login(client, factory):
    user = factory.user()
    return lambda: client.post("/auth/login", data={"phone": user.phone, "password": PASSWORD})


@step("account.logout")
def _logout(client, factory):
    user = factory.user()
    assert client.post("/auth/login",
                       data={"phone": user.phone, "password": PASSWORD}).status_code == 302
    return lambda: client.post("/auth/logout")


@step("account.login_failed")
def _login_failed(client, factory):
    user = factory.user()
    return lambda: client.post("/auth/login", data={"phone": user.phone, "password": "wrong-1"})


def _face(client, factory, fails: bool):
    from tests.test_face import own, post_live
    from webapp.face import services as face

    user = factory.user(face_check_fails=fails)
    login(client, user)
    check = face.begin(user.person, "kinship_add", "/")
    own(client, check)
    return lambda: post_live(client, check)


@step("face_check.pass")
def _face_pass(client, factory):
    return _face(client, factory, fails=False)


@step("face_check.fail")
def _face_fail(client, factory):
    return _face(client, factory, fails=True)


@step("kinship.binding_created")
def _binding_created(client, factory):
    from tests.test_wizard import sign, to_letter

    user = factory.user(name="李华", age=35)
    child = factory.person(name="李小明", age=8)
    login(client, user)
    kf.face_pass(user.person)
    to_letter(client, child)
    return lambda: sign(client, typed="李华")


def _invitation(client, factory):
    """A relative of 16+ invited by a holder; the relative logged in with a face pass.

    Returns (invitation token, relative user).
    """
    from webapp.kinship import services as kinship

    holder = factory.user(name="陈强", age=45)
    relative = factory.user(name="陈母", age=70, male=False)
    kf.face_pass(holder.person)
    done = kinship.complete_binding(holder.person, relative.person.name,
                                    relative.person.id_number, "parent",
                                    kf.material(holder.person, "hukou"), "陈强",
                                    kf.signature_data_url(), Actor(label="test"))
    assert done.token, "a relative of 16+ gets an invitation token"
    login(client, relative)
    return done, relative


def _answer(client, factory, accept: bool):
    done, relative = _invitation(client, factory)
    kf.face_pass(relative.person, purpose=lifecycle.FACE_PURPOSE)  # spent by accepting
    actor = Actor(user=relative, ip="127.0.0.1")
    fn = lifecycle.accept if accept else lifecycle.decline
    return lambda: fn(done.token, relative, actor)


@step("kinship.accepted")
def _accepted(client, factory):
    return _answer(client, factory, accept=True)


@step("kinship.declined")
def _declined(client, factory):
    return _answer(client, factory, accept=False)


@step("kinship.ended")
def _ended(client, factory):
    user = factory.user(name="郑洁", age=36, male=False)
    child = factory.person(name="郑小乐", age=6)
    binding = bind(user.person, child, "child")
    return lambda: lifecycle.end_binding(user, binding.public_id,
                                         Actor(user=user, ip="127.0.0.1"))


@step("material.viewed")
def _material_viewed(client, factory):
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    login(client, factory.staff(role="reviewer"))
    url = f"/family/materials/{binding.material.public_id}"

    def view():
        response = client.get(url)
        assert response.status_code == 200
        return response
    return view


@step("code.issued_for_relative")
def _code_for_relative(client, factory):
    user = factory.user(name="李红", age=38, male=False)
    child = factory.person(name="张小明", age=8)
    binding = bind(user.person, child, "child")
    login(client, user)

    def show():
        response = client.get(f"/code/{binding.public_id}")
        assert response.status_code == 200
        return response
    return show


@step("settlement.create")
def _settlement(client, factory):
    user = factory.user(name="张伟", balance_fen=10_000)
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    login(client, factory.staff(pharmacy_obj=pharmacy))
    code = issue(user).code
    assert client.post("/pharmacy/", data={"code": code}).status_code == 302
    assert presettle(client, "23.50", "布洛芬缓释胶囊 1盒").status_code == 302  # moves nothing

    def settle():
        response = confirm(client)  # 确认结算
        assert response.status_code == 302
        return response
    return settle


def _decision(client, factory, data):
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    login(client, factory.staff(role="reviewer"))
    return lambda: client.post(f"/review/{binding.public_id}/decide", data=data)


@step("review.approved")
def _approved(client, factory):
    return _decision(client, factory, {"approve": "1"})


@step("review.rejected")
def _rejected(client, factory):
    return _decision(client, factory, {"reject": "1", "reason": "unclear"})


def _api(client, factory, good_code: bool):
    from webapp.api import keys as api_keys

    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    _, raw = api_keys.create_key(pharmacy.code, "收银机1号", Actor(label="cli"))
    user = factory.user(balance_fen=10_000)
    code = issue(user).code if good_code else "NOSUCHCODE1"

    def call():
        response = client.post("/api/v1/codes/verify", json={"code": code},
                               headers={"X-API-Key": raw})
        if good_code:
            assert response.status_code == 200, response.get_data(as_text=True)
        else:
            assert 400 <= response.status_code < 500
        return response
    return call


@step("api.key_used")
def _api_key_used(client, factory):
    return _api(client, factory, good_code=True)


@step("api.key_used:refused")
def _api_key_used_refused(client, factory):
    """A request the API refuses (unknown code) still leaves exactly one row."""
    return _api(client, factory, good_code=False)


@pytest.mark.parametrize("case", sorted(STEPS))
def test_every_sensitive_action_leaves_exactly_one_audit_row(app, client, factory, case):
    action = case.split(":")[0]
    act = STEPS[case](client, factory)
    before = rows(action)
    act()
    db.session.expire_all()
    added = rows(action) - before
    assert added == 1, (
        f"'{action}' left {added} audit rows for one action (expected exactly 1); "
        f"see {OWNERS.get(action, '?')}"
    )
    row = db.session.scalars(
        select(AuditLog).filter_by(action=action).order_by(AuditLog.id.desc())
    ).first()
    assert row.created_at is not None
    assert row.actor_user_id is not None or row.actor_label, f"'{action}' names no actor"


def test_audit_rows_carry_who_what_when_where(app, client, factory):
    """A logged-in action records the user, the target, the person, time, IP and client."""
    user = factory.user(name="李红", age=38, male=False)
    child = factory.person(name="张小明", age=8)
    binding = bind(user.person, child, "child")
    login(client, user)
    client.get(f"/code/{binding.public_id}", environ_base={"REMOTE_ADDR": "203.0.113.7"},
               headers={"User-Agent": "Mozilla/5.0 test-phone"})
    row = db.session.scalar(select(AuditLog).filter_by(action="code.issued_for_relative"))
    assert row.actor_user_id == user.id and row.subject_person_id == child.id
    assert row.target_type == "KinshipBinding" and row.target_id == binding.public_id
    assert row.ip == "203.0.113.7" and "test-phone" in row.user_agent
    assert abs(row.created_at - clock.now()) < timedelta(minutes=1)


# =============================================================================================
# 审计日志: the reviewer's search and CSV export.
# =============================================================================================

@pytest.fixture
def trail(app, factory):
    """A few rows on three China days: two people, a failed login, a reviewer decision."""
    day1 = clock.china_midnight_utc(date(2026, 3, 2)) + timedelta(hours=9)
    day2 = clock.china_midnight_utc(date(2026, 3, 3)) + timedelta(hours=23, minutes=30)
    day3 = clock.china_midnight_utc(date(2026, 3, 5)) + timedelta(hours=8)
    alice = factory.user(name="刘芳", age=40, male=False)
    bob = factory.user(name="马超", age=50)
    reviewer = factory.staff(role="reviewer", name="审核员刘洋")
    with clock.frozen_at(day1):
        audit.record("account.login", Actor(user=alice, ip="198.51.100.1"), target=alice,
                     person=alice.person)
        db.session.flush()  # created_at is stamped at flush time
    with clock.frozen_at(day2):
        audit.record("account.login_failed", Actor(ip="198.51.100.2", label="139****0000"),
                     person=bob.person, label="139****0000")
        audit.record("kinship.binding_created", Actor(user=alice), person=bob.person,
                     detail={"status": "active", "relation": "=HYPERLINK(\"x\")"})
        db.session.flush()
    with clock.frozen_at(day3):
        audit.record("review.approved", Actor(user=reviewer, ip="10.0.0.9"), person=bob.person)
        db.session.flush()
    db.session.commit()
    return alice, bob, reviewer


def search(client, **args):
    return client.get("/review/audit", query_string=args)


def results(page: str) -> str:
    """The results part of the audit page (the form echoes the search terms)."""
    return page[page.index("</form>"):]


def test_search_by_id_number_finds_what_concerns_the_person_and_what_they_did(
        app, client, trail):
    alice, bob, reviewer = trail
    login(client, reviewer)
    page = html(search(client, id_number=alice.person.id_number.lower()))
    assert "共 2 条记录" in page  # her login, and the binding she created (as actor)
    assert "登录" in page and "添加家庭成员" in page
    assert alice.person.id_number not in results(page)
    assert "刘芳" not in page and "刘*" in page
    page = html(search(client, id_number=bob.person.id_number))
    assert "共 3 条记录" in page and "审核通过" in page and "登录失败" in page
    assert bob.person.id_number not in results(page) and "马超" not in page


def test_search_by_actor_phone_label_or_staff_name(app, client, trail):
    alice, bob, reviewer = trail
    login(client, reviewer)
    assert "共 2 条记录" in html(search(client, actor=alice.phone))
    assert "共 1 条记录" in html(search(client, actor="139****0000"))
    assert "共 1 条记录" in html(search(client, actor="13900000000"))  # failed login, masked
    page = html(search(client, actor="审核员刘洋"))
    assert "共 1 条记录" in page and "审核通过" in page


def test_search_by_china_dates_and_action(app, client, trail):
    alice, bob, reviewer = trail
    login(client, reviewer)
    # 2026-03-03 23:30 China time is on the 3rd even though it is the 3rd 15:30 UTC.
    page = html(search(client, date_from="2026-03-03", date_to="2026-03-03"))
    assert "共 2 条记录" in page and "2026-03-03 23:30" in page
    assert "共 3 条记录" in html(search(client, date_from="2026-03-03"))
    assert "共 3 条记录" in html(search(client, date_to="2026-03-04"))
    page = html(search(client, action="account.login_failed"))
    assert "共 1 条记录" in page


def test_search_refuses_bad_terms_clearly(app, client, trail):
    from webapp.idnumber import make_id_number

    alice, bob, reviewer = trail
    login(client, reviewer)
    page = html(search(client, id_number="123"))
    assert 'id="id_number-error"' in page and "条记录" not in page
    page = html(search(client, date_from="2026-03-05", date_to="2026-03-01"))
    assert "结束日期不能早于开始日期" in page and "条记录" not in page
    page = html(search(client, date_from="not-a-date"))
    assert "请输入正确的日期" in page
    nobody = make_id_number("110101", date(1990, 3, 7), 123)
    page = html(search(client, id_number=nobody))
    assert "没有符合条件的记录" in page


def test_search_pages(app, client, factory):
    reviewer = factory.staff(role="reviewer")
    person = factory.person(name="孙丽")
    for i in range(45):
        audit.record("code.issued_for_relative", Actor(label=f"t{i}"), person=person)
    db.session.commit()
    login(client, reviewer)
    page = html(search(client, id_number=person.id_number))
    assert "共 45 条记录" in page and "第 1 / 3 页" in page and "下一页" in page
    page = html(search(client, id_number=person.id_number, page=3))
    assert "第 3 / 3 页" in page and page.count("代家人出示医保码") >= 5
    assert f"id_number={person.id_number}" in page  # paging keeps the terms


def test_csv_export_bom_china_time_masked_and_audited(app, client, trail):
    alice, bob, reviewer = trail
    login(client, reviewer)
    r = client.get("/review/audit.csv", query_string={"id_number": bob.person.id_number})
    assert r.status_code == 200
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "private, no-store"
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the Chinese right
    text = raw.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == "时间（北京时间）" and table[0][1] == "操作"
    assert len(table) == 1 + 3
    body = "\n".join(",".join(r) for r in table[1:])
    assert "2026-03-03 23:30:00" in body and "2026-03-05 08:00:00" in body
    assert "马超" not in body and bob.person.id_number not in body
    assert "马*" in body and bob.person.id_number[-4:] in body
    assert "审核员刘洋" in body and "10.0.0.9" in body
    created = next(r for r in table if r[2] == "kinship.binding_created")
    assert not created[-1].startswith("=")  # a spreadsheet formula is not run
    assert rows("audit.exported") == 1
    exported = db.session.scalar(select(AuditLog).filter_by(action="audit.exported"))
    assert exported.actor_user_id == reviewer.id


def test_csv_with_bad_terms_goes_back_to_the_search(app, client, trail):
    alice, bob, reviewer = trail
    login(client, reviewer)
    r = client.get("/review/audit.csv", query_string={"date_from": "2026-03-05",
                                                     "date_to": "2026-03-01"})
    assert r.status_code == 302 and "/review/audit" in r.headers["Location"]
    assert rows("audit.exported") == 0


# =============================================================================================
# 谁出示过我的医保码
# =============================================================================================

def test_who_showed_my_code(app, client, factory):
    mother = factory.user(name="李红", age=38, male=False)
    father = factory.user(name="张强", age=40)
    child = factory.user(name="张小明", age=17)
    by_mother = bind(mother.person, child.person, "child")
    by_father = bind(father.person, child.person, "child")
    start = clock.now() - timedelta(hours=5)
    # Mother keeps the code page open 3 minutes (3 refreshes) → one 出示.
    for minute in range(3):
        with clock.frozen_at(start + timedelta(minutes=minute)):
            issue(mother, by_mother.public_id)
    with clock.frozen_at(start + timedelta(hours=2)):
        issue(father, by_father.public_id)
    issue(child)  # the child's own code: not "on my behalf"
    other = factory.person(name="外人", age=9)
    issue(mother, bind(mother.person, other, "child").public_id)

    login(client, child)
    r = client.get("/review/shown-my-code")
    page = html(r)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "private, no-store"
    assert page.count('class="weui-cell pv-show"') == 2
    assert "李*" in page and "张*" in page and "李红" not in page and "张强" not in page
    assert "您是其子女" in page and "页面刷新3次" in page
    assert page.index("张*") < page.index("李*")  # newest first
    assert "外人" not in page and "外*" not in page


def test_who_showed_my_code_empty_and_only_for_insured(app, client, factory):
    user = factory.user()
    login(client, user)
    assert "近180天没有人代您出示过医保码" in html(client.get("/review/shown-my-code"))
    me = html(client.get("/auth/me"))
    assert 'href="/review/shown-my-code"' in me and "谁出示过我的医保码" in me
    login(client, factory.staff(role="pharmacy"))
    assert client.get("/review/shown-my-code").status_code == 403


def test_review_decisions_are_searchable(app, client, factory):
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    reviewer = factory.staff(role="reviewer", name="审核员王")
    review.reject(binding.public_id, reviewer, "other", "印章不清楚", Actor(user=reviewer))
    login(client, reviewer)
    page = html(search(client, id_number=child.id_number, action="review.rejected"))
    assert "共 1 条记录" in page and "审核不通过" in page and "印章不清楚" in page
