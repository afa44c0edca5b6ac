"""家人主页 (a page per family member), the home's 医保码 entry and balance, 家庭 avatars, and the
month chart: who may see what (404 for everyone else), the year's totals, and no N+1."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tests.test_codes import bind, end, family, login
from tests.test_query_counts import statements
from tests.test_records import add_settlement
from webapp import clock
from webapp.charts import Bar, month_bars, month_chart, month_rows
from webapp.codes import records
from webapp.codes.states import SettlementStatus
from webapp.extensions import db

# 2024-05-20 12:00 China time.
NOW = datetime(2024, 5, 20, 4, 0)


def page_of(client, person) -> str:
    response = client.get(f"/family/people/{person.public_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def bar_fens(html: str) -> list[int]:
    """The data-fen of every bar of the (first) chart in the page, in order."""
    svg = html[html.index("<svg xmlns"):]
    svg = svg[:svg.index("</svg>")]
    return [int(v) for v in re.findall(r'data-fen="(\d+)"', svg)]


# --- the chart ----------------------------------------------------------------------------

def test_month_bars_draw_one_bar_per_month_scaled_to_the_largest():
    """Heights follow the amounts; an empty month is a stub; labels and a text description."""
    svg = str(month_bars([Bar("1月", 1000), Bar("2月", 0), Bar("3月", 4000)], "本年医疗费用"))
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert heights[2] == 120 and heights[0] == 30 and heights[1] == 2
    assert ">1月<" in svg and ">3月<" in svg and ">40<" in svg  # ¥40 above the bar
    assert "<desc>1月 10.00元；2月 0.00元；3月 40.00元</desc>" in svg
    assert 'role="img"' in svg and "style=" not in svg and "<script" not in svg


def test_elder_rows_use_large_dark_text_with_amounts():
    """长辈模式: every text ≥ 18 px, near-black, the amount in yuan beside each month."""
    svg = str(month_chart([Bar("4月", 2350), Bar("5月", 0)], "图", elder=True))
    sizes = [int(s) for s in re.findall(r'font-size="(\d+)"', svg)]
    assert sizes and min(sizes) >= 18
    assert set(re.findall(r'<text [^>]*fill="(#[0-9a-f]{6})"', svg)) == {"#1a1a1a"}
    assert ">¥23.50<" in svg and ">¥0.00<" in svg and 'data-chart="rows"' in svg
    assert svg == str(month_rows([Bar("4月", 2350), Bar("5月", 0)], "图"))


def test_chart_text_is_escaped():
    svg = str(month_bars([Bar("<b>", 100)], "a&b"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a&amp;b" in svg


def test_year_spending_buckets_china_months_and_leaves_cancelled_out(app, factory):
    user = factory.user()
    shop = factory.pharmacy()
    with clock.frozen_at(NOW):
        add_settlement(user.person, shop, 1000, datetime(2024, 1, 10, 2, 0))
        add_settlement(user.person, shop, 400, datetime(2024, 4, 30, 17, 0))  # 1 May in China
        add_settlement(user.person, shop, 900, datetime(2023, 12, 31, 15, 0))  # 2023 in China
        gone = add_settlement(user.person, shop, 5000, datetime(2024, 5, 2, 2, 0))
        gone.status = SettlementStatus.CANCELLED
        gone.cancelled_at = clock.now()
        db.session.commit()
        per = records.year_spending([user.person.id], clock.today())[user.person.id]
        bars = records.bars_of(per, clock.today())
    assert [(b.label, b.value_fen) for b in bars] == [
        ("1月", 1000), ("2月", 0), ("3月", 0), ("4月", 0), ("5月", 400)]


# --- the person page ----------------------------------------------------------------------

def test_own_page_shows_code_balance_year_records_and_insurance(app, client, factory):
    user = factory.user(name="李红", age=38, male=False, balance_fen=12345, region="360102")
    shop = factory.pharmacy(name="仁心大药房")
    with clock.frozen_at(NOW):
        add_settlement(user.person, shop, 2350, NOW - timedelta(days=40), "布洛芬")
        add_settlement(user.person, shop, 1000, NOW - timedelta(hours=1), "口罩")
        login(client, user)
        html = page_of(client, user.person)
    assert "/code/me" in html and "出示医保码" in html
    assert "个人账户余额" in html and "¥123.45" in html
    assert "2024年医疗费用" in html and "¥33.50" in html
    assert bar_fens(html) == [0, 0, 0, 2350, 1000]
    assert "仁心大药房" in html and html.count("data-record") == 2
    assert "职工医保" in html and "江西省" in html and "参保中" in html
    assert "/records/?who=me" in html


def test_holder_sees_the_childs_page_without_a_balance(app, client, factory):
    mother, child, binding = family(factory)
    add_settlement(child, factory.pharmacy(name="康复药房"), 800, clock.now(), "退烧药",
                   holder=mother.person)
    login(client, mother)
    html = page_of(client, child)
    assert "张*明" in html and "儿子" in html and "张小明" not in html
    assert f"/code/{binding.public_id}" in html and "代儿子出示医保码" in html
    assert "个人账户余额" not in html and "¥20.00" not in html
    assert "康复药房" in html and f"/records/?who={binding.public_id}" in html


def test_more_than_five_records_link_to_all(app, client, factory):
    user = factory.user()
    shop = factory.pharmacy()
    for i in range(7):
        add_settlement(user.person, shop, 100 + i, clock.now() - timedelta(minutes=i))
    login(client, user)
    html = page_of(client, user.person)
    assert html.count("data-record") == 5 and "查看全部消费记录" in html


def test_other_people_get_404(app, client, factory):
    """Another family's member, a pending or ended binding, the holder's own holder: 404."""
    mother, child, binding = family(factory)
    stranger = factory.user(name="陈某")
    login(client, stranger)
    for person in (child, mother.person):
        response = client.get(f"/family/people/{person.public_id}")
        assert response.status_code == 404 and "张小明" not in response.get_data(as_text=True)
    assert client.get("/family/people/nope").status_code == 404
    pending_child = factory.person(name="陈小", age=10)
    bind(stranger.person, pending_child, "child", status="pending_review")
    assert client.get(f"/family/people/{pending_child.public_id}").status_code == 404
    # The child may not open the mother's page: the binding goes one way.
    child_user = factory.user(person_obj=factory.person(name="王强", age=20))
    bind(mother.person, child_user.person, "child")
    login(client, child_user)
    assert client.get(f"/family/people/{mother.person.public_id}").status_code == 404
    login(client, mother)
    end(binding)
    assert client.get(f"/family/people/{child.public_id}").status_code == 404
    login(client, factory.staff())
    assert client.get(f"/family/people/{child.public_id}").status_code == 403


def test_elder_mode_draws_the_row_chart(app, client, factory):
    user = factory.user()
    add_settlement(user.person, factory.pharmacy(), 2350, clock.now())
    user.elder_mode = True
    db.session.commit()
    login(client, user)
    html = page_of(client, user.person)
    assert 'data-chart="rows"' in html and 'data-chart="bars"' not in html


def test_resident_has_no_account_line(app, client, factory):
    user = factory.user(insurance_type="resident")
    login(client, user)
    html = page_of(client, user.person)
    assert "居民医保没有个人账户" in html and "个人账户余额" not in html


# --- 家庭 avatars and the home ---------------------------------------------------------------

def test_family_avatars_show_more_than_the_surname_and_open_the_person_page(
        app, client, factory):
    mother = factory.user(name="李红", age=60, male=False)
    son = factory.person(name="李明", age=30)
    daughter = factory.person(name="李小丽", age=28, male=False)
    bind(mother.person, son, "child")
    bind(mother.person, daughter, "child")
    login(client, mother)
    html = client.get("/family/").get_data(as_text=True)
    avatars = re.findall(r'class="pp-avatar[^"]*"[^>]*>([^<]+)<', html)
    assert sorted(set(avatars)) == sorted({"儿子", "女儿", "我"})
    assert "李明" not in html and "李小丽" not in html  # masked: 李*, 李*丽
    for person in (son, daughter, mother.person):
        assert f"/family/people/{person.public_id}" in html
    assert "/family/members/" in html  # the binding's own page is still one tap away


def test_home_has_a_large_code_entry_and_the_balance(app, client, factory):
    user = factory.user(balance_fen=5000)
    login(client, user)
    html = client.get("/").get_data(as_text=True)
    assert "data-home-code" in html and "/code/me" in html
    assert "个人账户余额" in html and "¥50.00" in html
    assert "app-grid" in html and "家庭共济" in html


def test_elder_home_has_fewer_bigger_entries(app, client, factory):
    user = factory.user(balance_fen=5000)
    user.elder_mode = True
    db.session.commit()
    login(client, user)
    html = client.get("/").get_data(as_text=True)
    assert "data-elder-home" in html and "app-grid" not in html
    assert html.count('class="hm-big__item"') == 3 and "data-home-code" in html
    assert "¥50.00" in html


def test_visitor_home_is_unchanged(app, client):
    html = client.get("/").get_data(as_text=True)
    assert "欢迎使用亲情医保" in html and "data-home-code" not in html


# --- statements ------------------------------------------------------------------------------

def test_person_page_statements_do_not_grow_with_records(app, client, factory):
    mother, child, _ = family(factory)
    login(client, mother)

    def add(n, start):
        for i in range(n):
            shop = factory.pharmacy(name=f"第{start + i}药房")
            add_settlement(child, shop, 100, clock.now() - timedelta(minutes=start + i),
                           holder=mother.person)

    add(1, 0)
    client.get("/")  # the session's first-request work is not the page's
    few = statements(client, f"/family/people/{child.public_id}")
    add(6, 1)
    assert statements(client, f"/family/people/{child.public_id}") == few
    assert statements(client, f"/family/people/{mother.person.public_id}") <= few + 1


def test_home_statements_are_few(app, client, factory):
    user = factory.user(balance_fen=100)
    login(client, user)
    client.get("/")
    assert statements(client, "/") <= 6


# --- 共济 消费明细: the same chart per member -------------------------------------------------

def test_aid_spending_has_a_chart_per_member(app, client, factory):
    from tests.test_aid_payments import spending_family

    owner, son, wife, son_m, _ = spending_family(factory)
    login(client, owner)
    client.get("/")
    with clock.frozen_at(datetime(2031, 4, 20, 4, 0)):
        html = client.get("/aid/spending").get_data(as_text=True)
        few = statements(client, "/aid/spending")
        charts = html.split("data-member-chart")[1:]
        assert len(charts) == 2
        assert "陈*" in charts[0] and bar_fens(charts[0]) == [0, 0, 2500, 0]
        assert "王*明" in charts[1] and bar_fens(charts[1]) == [0, 0, 1000, 700]
        only = client.get(f"/aid/spending?member={son_m.public_id}").get_data(as_text=True)
        assert only.count("data-member-chart") == 1 and "王*明 · 本年合计 ¥17.00" in only
        # more payments of more members: the same number of statements
        from tests.test_aid_payments import shop_of
        from tests.test_aid_rules import accept, add
        from tests.test_codes import issue
        from tests.test_settlement import pay

        daughter = factory.user(name="王小红", age=18, male=False)
        accept(add(owner.person, daughter.person, "child").member)
        pay(issue(daughter).code, shop_of(factory, name="第二药房"), amount_fen=300)
        assert statements(client, "/aid/spending") == few


def test_code_picker_avatars_are_told_apart_by_relation(app, client, factory):
    mother = factory.user(name="李红", age=60, male=False)
    bind(mother.person, factory.person(name="李明", age=30), "child")
    bind(mother.person, factory.person(name="李丽", age=28, male=False), "child")
    login(client, mother)
    html = client.get("/code/").get_data(as_text=True)
    avatars = re.findall(r'class="code-pick__avatar"[^>]*>([^<]+)<', html)
    assert avatars == ["我", "儿子", "女儿"]
