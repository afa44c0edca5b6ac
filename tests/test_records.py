"""消费记录: own and relatives' settlements, newest first, paged, monthly totals, access."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.test_codes import bind, end, family, login
from webapp import clock
from webapp.codes import records
from webapp.codes.states import SettlementStatus
from webapp.extensions import db
from webapp.models import Settlement


def add_settlement(person, pharmacy, total_fen: int, at: datetime, items: str = "药品",
                   account_fen: int = 0, holder=None, binding=None) -> Settlement:
    """A settled purchase at a given moment (naive UTC); shown by ``holder`` through
    ``binding`` when given."""
    row = Settlement(pharmacy_id=pharmacy.id, person_id=person.id, total_fen=total_fen,
                     account_fen=account_fen, cash_fen=total_fen - account_fen, items=items,
                     holder_person_id=holder.id if holder else None,
                     binding_id=binding.id if binding else None, created_at=at)
    db.session.add(row)
    db.session.commit()
    return row


# 2024-05-20 12:00 China time.
NOW = datetime(2024, 5, 20, 4, 0)


def test_own_records_newest_first_with_split_and_china_time(app, client, factory):
    """Rows show pharmacy, items, amount, split and the China-time timestamp."""
    user = factory.user(name="张小明")
    shop = factory.pharmacy(name="仁心大药房")
    with clock.frozen_at(NOW):
        add_settlement(user.person, shop, 2350, NOW - timedelta(hours=2), "布洛芬", 2000)
        add_settlement(user.person, shop, 1000, NOW - timedelta(hours=1), "口罩")
        login(client, user)
        html = client.get("/records/").get_data(as_text=True)
    assert html.index("口罩") < html.index("布洛芬")
    assert "仁心大药房" in html and "¥23.50" in html
    assert "个人账户 ¥20.00" in html and "现金 ¥3.50" in html
    assert "2024-05-20 10:00" in html  # 02:00 UTC = 10:00 in China


def test_monthly_total_and_month_headers(app, client, factory):
    """This month's total on top; each month on the page has its own header and total."""
    user = factory.user()
    shop = factory.pharmacy()
    with clock.frozen_at(NOW):
        add_settlement(user.person, shop, 1000, datetime(2024, 5, 3, 1, 0))
        add_settlement(user.person, shop, 2000, datetime(2024, 5, 19, 1, 0))
        # 2024-04-30 17:00 UTC is already 1 May in China.
        add_settlement(user.person, shop, 400, datetime(2024, 4, 30, 17, 0))
        add_settlement(user.person, shop, 700, datetime(2024, 4, 30, 15, 0))  # 23:00 30 April
        login(client, user)
        html = client.get("/records/").get_data(as_text=True)
        total = records.month_total(user.person)
    assert (total.count, total.total_fen) == (3, 3400)
    assert "2024年5月 医保消费（3 笔）" in html and "¥34.00" in html
    assert "合计 ¥34.00（3 笔）" in html and "合计 ¥7.00（1 笔）" in html
    assert html.index("2024年5月") < html.index("2024年4月")


def test_records_are_paged(app, client, factory):
    """25 rows → 20 on page 1 (newest), 5 on page 2; the month total counts all."""
    user = factory.user()
    shop = factory.pharmacy()
    with clock.frozen_at(NOW):
        for i in range(25):
            add_settlement(user.person, shop, 100 + i, NOW - timedelta(minutes=25 - i),
                           f"项目{i:02d}号")
        login(client, user)
        first = client.get("/records/").get_data(as_text=True)
        second = client.get("/records/?page=2").get_data(as_text=True)
    assert "项目24号" in first and "项目05号" in first and "项目04号" not in first
    assert "项目04号" in second and "项目00号" in second and "项目24号" not in second
    assert "第 1 / 2 页" in first and "下一页" in first
    assert "25 笔" in first


def test_holder_sees_the_relatives_records(app, client, factory):
    """The picker has 本人 and the child; ?who=<binding> shows the child's purchases."""
    mother, child, binding = family(factory)
    shop = factory.pharmacy(name="仁心大药房")
    add_settlement(child, shop, 2350, clock.now(), "儿童退烧药", holder=mother.person)
    add_settlement(mother.person, shop, 500, clock.now(), "妈妈的药")
    login(client, mother)
    mine = client.get("/records/").get_data(as_text=True)
    assert "妈妈的药" in mine and "儿童退烧药" not in mine
    assert f"who={binding.public_id}" in mine and "张*明（儿子）" in mine
    childs = client.get(f"/records/?who={binding.public_id}").get_data(as_text=True)
    assert "儿童退烧药" in childs and "妈妈的药" not in childs and "我代为出示" in childs


def test_records_access_control(app, client, factory):
    """Foreign binding 404, pending 404, ended 403, staff 403."""
    mother, child, binding = family(factory)
    add_settlement(child, factory.pharmacy(), 100, clock.now(), "秘密")
    stranger = factory.user(name="陈某")
    login(client, stranger)
    assert client.get(f"/records/?who={binding.public_id}").status_code == 404
    pending = bind(stranger.person, factory.person(name="陈小", age=10), "child",
                   status="pending_review")
    assert client.get(f"/records/?who={pending.public_id}").status_code == 404
    login(client, mother)
    end(binding)
    response = client.get(f"/records/?who={binding.public_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "秘密" not in html
    assert "绑定已解除，无法查看该家人的消费记录" in html
    login(client, factory.staff())
    assert client.get("/records/").status_code == 403


def test_no_records_is_an_empty_state(app, client, factory):
    """A friendly empty page, month total zero."""
    login(client, factory.user())
    html = client.get("/records/").get_data(as_text=True)
    assert "暂无消费记录" in html and "¥0.00" in html


@pytest.mark.parametrize("page", ["0", "-1", "abc", "999"])
def test_odd_page_numbers_do_not_fail(app, client, factory, page):
    """Bad ?page values give a page, never a 500."""
    login(client, factory.user())
    assert client.get(f"/records/?page={page}").status_code in (200, 404)


def test_a_cancelled_purchase_shows_when_and_why_and_is_not_in_the_totals(app, client, factory):
    """已撤销 pill, 撤销于 <China time>：<reason>; month and header totals count only settled."""
    from webapp.codes.states import SettlementStatus

    user = factory.user()
    shop = factory.pharmacy(name="仁心大药房")
    with clock.frozen_at(NOW):
        add_settlement(user.person, shop, 1000, NOW - timedelta(hours=3), "口罩")
        row = add_settlement(user.person, shop, 2350, NOW - timedelta(hours=2), "布洛芬", 2000)
        row.status = SettlementStatus.CANCELLED
        row.cancelled_at, row.cancel_reason = NOW - timedelta(hours=1), "顾客退货"
        row.cash_refunded_fen = row.cash_fen
        db.session.commit()
        login(client, user)
        html = client.get("/records/").get_data(as_text=True)
        total = records.month_total(user.person)
    assert (total.count, total.total_fen, total.account_fen) == (1, 1000, 0)
    assert "2024年5月 医保消费（1 笔）" in html and "合计 ¥10.00（1 笔）" in html
    assert "已撤销" in html and "撤销于 2024-05-20 11:00：顾客退货" in html
    assert html.count("rec-row_cancelled") == 1 and "¥23.50" in html


# --- 结算详情 ----------------------------------------------------------------------------------

def aid_settlement(patient, owner, pharmacy, holder=None, binding=None) -> Settlement:
    """¥50.00 at the counter: ¥10 own account, ¥30 from the 共济 owner, ¥10 cash."""
    row = Settlement(pharmacy_id=pharmacy.id, person_id=patient.id, total_fen=5000,
                     account_fen=1000, aid_fen=3000, aid_owner_person_id=owner.id,
                     cash_fen=1000, items="布洛芬缓释胶囊×1 ¥23.50；口罩×2 ¥26.50",
                     holder_person_id=holder.id if holder else None,
                     binding_id=binding.id if binding else None, created_at=clock.now())
    db.session.add(row)
    db.session.commit()
    return row


def detail_of(client, settlement, status: int = 200) -> str:
    response = client.get(f"/records/{settlement.public_id}")
    assert response.status_code == status
    return response.get_data(as_text=True)


def test_every_record_row_opens_its_detail(app, client, factory):
    user = factory.user()
    row = add_settlement(user.person, factory.pharmacy(), 100, clock.now())
    login(client, user)
    html = client.get("/records/").get_data(as_text=True)
    assert f'href="/records/{row.public_id}"' in html


def test_detail_shows_items_split_pharmacy_and_who_showed(app, client, factory):
    """The patient's mother showed it: lines, the three parts, the pharmacy, '我代为出示'."""
    mother, child, binding = family(factory)
    grandma = factory.user(name="王芳", age=62, male=False)
    shop = factory.pharmacy(name="仁心大药房")
    s = aid_settlement(child, grandma.person, shop, holder=mother.person, binding=binding)
    login(client, mother)
    html = detail_of(client, s)
    assert "布洛芬缓释胶囊" in html and "×1" in html and "¥23.50" in html and "×2" in html
    assert "¥50.00" in html and "¥10.00" in html and "¥30.00" in html
    assert "仁心大药房" in html and "我代为出示" in html and "张*明（儿子）" in html
    assert "已结算" in html and "已撤销" not in html
    assert f'href="/records/?who={binding.public_id}"' in html  # ‹ to the son's records


def test_the_patient_sees_which_relative_showed_it(app, client, factory):
    mother, child_person, binding = family(factory)
    child = factory.user(person_obj=child_person)
    s = add_settlement(child_person, factory.pharmacy(), 800, clock.now(), "退烧药",
                       holder=mother.person, binding=binding)
    login(client, child)
    html = detail_of(client, s)
    assert "李*（母亲）代为出示" in html and "李红" not in html
    assert "<dd>本人</dd>" in html


def test_cancelled_detail_says_when_and_why(app, client, factory):
    user = factory.user()
    s = add_settlement(user.person, factory.pharmacy(), 2350, clock.now(), "布洛芬", 2000)
    s.status = SettlementStatus.CANCELLED
    s.cancelled_at = clock.now()
    s.cancel_reason = "顾客退货"
    db.session.commit()
    login(client, user)
    html = detail_of(client, s)
    assert "已撤销" in html and "顾客退货" in html and "款项已原路退回" in html
    assert clock.china_time(s.cancelled_at) in html


def test_aid_owner_sees_the_share_but_not_who_showed(app, client, factory):
    """The 共济 payer sees what 消费明细 shows already, not who showed the code."""
    mother, child, binding = family(factory)
    grandma = factory.user(name="王芳", age=62, male=False)
    s = aid_settlement(child, grandma.person, factory.pharmacy(name="仁心大药房"),
                       holder=mother.person, binding=binding)
    login(client, grandma)
    html = detail_of(client, s)
    assert "¥30.00" in html and "（您的账户）" in html and "仁心大药房" in html
    assert "代为出示" not in html and "出示医保码" not in html and "张*明" in html
    assert s.public_id not in html.split("结算信息", 1)[1]  # no 结算单号 for the payer


def test_detail_is_404_for_everyone_else(app, client, factory):
    mother, child, binding = family(factory)
    s = aid_settlement(child, factory.person(name="王芳", age=62),
                       factory.pharmacy(), holder=mother.person, binding=binding)
    mine = add_settlement(child, factory.pharmacy(), 100, clock.now(), "秘密药")
    stranger = factory.user(name="陈某")
    login(client, stranger)
    assert "秘密药" not in detail_of(client, mine, 404)
    detail_of(client, s, 404)
    assert client.get("/records/nope").status_code == 404
    # A holder whose binding ended still sees what they showed, not the rest.
    login(client, mother)
    end(binding)
    detail_of(client, s, 200)
    detail_of(client, mine, 404)
    # A payer whose account paid nothing of this one: 404.
    other_owner = factory.user(name="赵某")
    login(client, other_owner)
    detail_of(client, s, 404)
    login(client, factory.staff())
    assert client.get(f"/records/{s.public_id}").status_code == 403


def test_a_holder_with_an_active_binding_sees_records_someone_else_showed(app, client, factory):
    """Both parents are bound to the child: the father opens what the mother showed."""
    mother, child, binding = family(factory)
    father = factory.user(name="张伟", age=40)
    bind(father.person, child, "child")
    s = add_settlement(child, factory.pharmacy(), 600, clock.now(), "止咳糖浆",
                       holder=mother.person, binding=binding)
    login(client, father)
    html = detail_of(client, s)
    assert "止咳糖浆" in html and "李*（母亲）代为出示" in html


def test_detail_statements_are_fixed(app, client, factory):
    from tests.test_query_counts import statements

    mother, child, binding = family(factory)
    s = aid_settlement(child, factory.person(name="王芳", age=62), factory.pharmacy(),
                       holder=mother.person, binding=binding)
    login(client, mother)
    client.get("/")
    few = statements(client, f"/records/{s.public_id}")
    bind(mother.person, factory.person(name="张小红", age=6, male=False), "child")
    assert statements(client, f"/records/{s.public_id}") == few <= 10
