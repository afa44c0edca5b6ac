"""The reviewer (the authority checking the material) sees both people's full name and ID
number on the application page; every view is audited; the queue stays masked; nobody else
can open the page."""

from __future__ import annotations

import json

from sqlalchemy import select

from tests.helpers import refused_page
from tests.test_codes import login
from tests.test_review import html, jiangsu_family, submit
from webapp.audit import search as audit_search
from webapp.extensions import db
from webapp.models import AuditLog

VIEWED = "review.detail_viewed"


def views(binding) -> list[AuditLog]:
    return list(db.session.scalars(
        select(AuditLog).filter_by(action=VIEWED, target_id=binding.public_id)
        .order_by(AuditLog.id)))


def test_detail_shows_both_people_in_full_and_audits_each_view(app, client, factory):
    reviewer = factory.staff(role="reviewer", name="审核员刘洋")
    user, child = jiangsu_family(factory, "王丽", "王小宝")
    binding = submit(user.person, child)
    holder = user.person
    login(client, reviewer)
    assert views(binding) == []

    page = html(client.get(f"/review/{binding.public_id}"))
    for full in ("王丽", "王小宝", holder.id_number, child.id_number):
        assert full in page, full
    assert "每次查看均记入审计日志" in page
    rows = views(binding)
    assert len(rows) == 1
    row = rows[0]
    assert row.actor_user_id == reviewer.id and row.subject_person_id == child.id
    assert row.target_type == "KinshipBinding" and row.ip
    detail = json.loads(row.detail)
    assert detail["reviewer"] == reviewer.public_id
    assert detail["holder"] == holder.public_id and detail["member"] == child.public_id

    client.get(f"/review/{binding.public_id}")
    assert len(views(binding)) == 2  # one row per view, not per reviewer
    assert audit_search.action_label(VIEWED) == "查看审核申请（完整身份信息）"


def test_a_refused_decision_re_renders_the_page_and_is_audited_too(app, client, factory):
    reviewer = factory.staff(role="reviewer")
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    login(client, reviewer)
    r = refused_page(client, client.post(f"/review/{binding.public_id}/decide",
                    data={"reject": "1", "version": binding.version}))  # no reason
    assert r.status_code == 400 and child.id_number in html(r)
    assert len(views(binding)) == 1


def test_the_queue_stays_masked_and_writes_no_view_row(app, client, factory):
    reviewer = factory.staff(role="reviewer")
    user, child = jiangsu_family(factory, "王丽", "王小宝")
    binding = submit(user.person, child)
    login(client, reviewer)
    for tab in ("", "?tab=done"):
        page = html(client.get(f"/review/{tab}"))
        for full in ("王小宝", "王丽", child.id_number, user.person.id_number):
            assert full not in page
    assert "王*宝" in html(client.get("/review/"))
    assert views(binding) == []


def test_nobody_but_a_reviewer_sees_the_page(app, client, factory):
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    pharmacist = factory.staff(role="pharmacy")
    outsider = factory.user(name="赵强", age=30)
    url = f"/review/{binding.public_id}"
    assert client.get(url).status_code in (302, 401)  # anonymous → login
    for who in (user, outsider, pharmacist):
        login(client, who)
        r = client.get(url)
        assert r.status_code in (403, 404), who.role
        assert child.id_number not in html(r)
    assert views(binding) == []
