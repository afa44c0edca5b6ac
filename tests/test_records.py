"""消费记录: own and relatives' settlements, newest first, paged, monthly totals, access."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.test_codes import bind, end, family, login
from webapp import clock
from webapp.codes import records
from webapp.extensions import db
from webapp.models import Settlement


def add_settlement(person, pharmacy, total_fen: int, at: datetime, items: str = "药品",
                   account_fen: int = 0, holder=None) -> Settlement:
    """A settled purchase at a given moment (naive UTC)."""
    row = Settlement(pharmacy_id=pharmacy.id, person_id=person.id, total_fen=total_fen,
                     account_fen=account_fen, cash_fen=total_fen - account_fen, items=items,
                     holder_person_id=holder.id if holder else None, created_at=at)
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
