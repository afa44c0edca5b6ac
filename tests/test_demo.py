"""The demo seed (idempotent, the kinds of people a demo needs, working logins) and the bulk
synthetic registry."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from webapp import clock
from webapp.demo import (
    DEMO_LOGINS,
    FAMILIES,
    add_synthetic_people,
    seed_demo,
    synthetic_identity,
)
from webapp.extensions import db
from webapp.idnumber import make_id_number, parse_id_number
from webapp.models import (
    AuditLog,
    InsuredPerson,
    LedgerEntry,
    PersonalAccount,
    Pharmacy,
    User,
)
from webapp.registry.services import add_person

TABLES = (InsuredPerson, PersonalAccount, LedgerEntry, User, Pharmacy, AuditLog)


def counts() -> tuple[int, ...]:
    """Rows of every table the seed writes."""
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in TABLES)


def demo_people() -> list[InsuredPerson]:
    """The seeded registry (no synthetic people in these tests)."""
    return db.session.scalars(select(InsuredPerson).order_by(InsuredPerson.id)).all()


def has_login(person: InsuredPerson) -> bool:
    """Whether the person has an account."""
    return db.session.scalar(select(User.id).filter_by(person_id=person.id)) is not None


def test_seed_twice_changes_nothing(app):
    first = seed_demo()
    assert first.people == sum(len(members) for _, members in FAMILIES)
    after_first = counts()
    second = seed_demo()
    assert (second.people, second.users, second.pharmacies, second.created) == (0, 0, 0, [])
    assert counts() == after_first


def test_seed_demo_command_is_idempotent_and_prints_the_logins(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "演示账号（密码均为 Demo1234）" in first.output and "13800000001" in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "演示数据已存在，未作改动" in second.output


def test_the_kinds_of_people_a_demo_needs_exist(app):
    seed_demo()
    today = clock.today()
    people = demo_people()
    ages = {p.name: p.age_on(today) for p in people}
    under_16 = [p for p in people if ages[p.name] < 16]
    teens = [p for p in people if 16 <= ages[p.name] <= 17]
    elders = [p for p in people if ages[p.name] >= 60]
    assert len(under_16) >= 3
    assert teens and any(has_login(p) for p in teens) and not all(has_login(p) for p in teens)
    assert any(has_login(p) for p in elders)
    assert any(p.insurance_type == "resident" for p in elders)
    flagged = [p for p in people if p.face_check_fails]
    assert len(flagged) == 1 and has_login(flagged[0])
    assert any(p.insurance_type == "employee" and p.balance_fen == 0 for p in people)
    assert any(p.status == "suspended" for p in people)
    assert any(not has_login(p) and p.phone for p in people)  # can demonstrate registration
    for province in ("360000", "320000", "460000"):
        family = [p for p in people if p.region_code == province]
        assert any(p.insurance_type == "employee" and p.balance_fen > 0 and has_login(p)
                   for p in family)
        assert any(ages[p.name] < 16 for p in family)
        assert any(16 <= ages[p.name] <= 17 for p in family)
        assert any(ages[p.name] >= 60 for p in family)
    for p in people:  # gender and birth date come from the ID number
        info = parse_id_number(p.id_number)
        assert (p.gender, p.birth_date) == (info.gender, info.birth_date)


@pytest.mark.parametrize("moment", [datetime(2031, 2, 28, 20), datetime(2044, 7, 1, 3)])
def test_ages_are_relative_to_the_clock(app, moment):
    with clock.frozen_at(moment):
        seed_demo()
        today = clock.today()
        people = {p.name: p.age_on(today) for p in demo_people()}
    assert 16 <= people["张子豪"] <= 17 and 16 <= people["陈浩然"] <= 17
    assert people["张小明"] == 8 and people["张德胜"] == 66


def test_flagged_person_is_named_in_the_printed_logins(app):
    seed_demo()
    flagged = db.session.scalar(select(InsuredPerson).filter_by(face_check_fails=True))
    line = next(who for _, phone, who in DEMO_LOGINS["accounts"] if phone == flagged.phone)
    assert "人脸核验总是失败" in line


def test_demo_logins_work(app):
    seed_demo()
    assert DEMO_LOGINS["password"] == "Demo1234"
    roles = set()
    for label, phone, who in DEMO_LOGINS["accounts"]:
        user = db.session.scalar(select(User).filter_by(phone=phone))
        assert user is not None, phone
        assert user.check_password("Demo1234"), phone
        assert user.role_label == label and who
        roles.add(user.role)
    assert roles == {"insured", "pharmacy", "reviewer"}
    shops = {p.name: p.region_code for p in db.session.scalars(select(Pharmacy))}
    assert shops["仁心大药房"] == "360000" and "320000" in shops.values()
    staff = db.session.scalar(select(User).where(User.role == "pharmacy",
                                                 User.pharmacy.has(name="仁心大药房")))
    assert staff is not None


def test_a_demo_login_logs_in_through_the_form(app, client, auth):
    seed_demo()
    response = auth.login(DEMO_LOGINS["accounts"][0][1], DEMO_LOGINS["password"])
    assert response.status_code == 302


def test_bulk_people_are_valid_and_unique(runner):
    result = runner.invoke(args=["seed-demo", "--people", "2000"])
    assert result.exit_code == 0, result.output
    assert "已批量生成合成参保人 2000 名" in result.output and "秒" in result.output
    synthetic = db.session.scalars(
        select(InsuredPerson).where(InsuredPerson.phone.like("199%"))).all()
    assert len(synthetic) == 2000
    today = clock.today()
    for p in synthetic:
        info = parse_id_number(p.id_number, today=today)
        assert (p.gender, p.birth_date, p.region_code) == (
            info.gender, info.birth_date, info.province_code)
        assert 900 <= info.sequence <= 999
        assert 2 <= len(p.name) <= 4
        assert (p.account is not None) == (p.insurance_type == "employee")
    assert len({p.id_number for p in synthetic}) == 2000
    assert len({p.phone for p in synthetic}) == 2000
    assert len({p.region_code for p in synthetic}) == 31
    assert {p.gender for p in synthetic} == {"男", "女"}
    synthetic_account = PersonalAccount.person.has(InsuredPerson.phone.like("199%"))
    opening = db.session.execute(
        select(LedgerEntry.amount_fen, PersonalAccount.balance_fen)
        .join(PersonalAccount).where(LedgerEntry.kind == "opening", synthetic_account)).all()
    funded = db.session.scalar(select(func.count()).select_from(PersonalAccount)
                               .where(PersonalAccount.balance_fen > 0, synthetic_account))
    assert len(opening) == funded and all(a == b for a, b in opening)


def test_bulk_runs_add_new_people_and_skip_taken_numbers(app):
    district, birth, seq = synthetic_identity(0, clock.today())
    taken = make_id_number(district, birth, seq)
    add_person("占位人", taken, None, insurance_type="resident")
    assert add_synthetic_people(300) == 300
    assert add_synthetic_people(200) == 200
    numbers = db.session.scalars(select(InsuredPerson.id_number)).all()
    phones = db.session.scalars(
        select(InsuredPerson.phone).where(InsuredPerson.phone.is_not(None))).all()
    assert len(numbers) == len(set(numbers)) == 501
    assert len(phones) == len(set(phones)) == 500
    assert db.session.scalar(select(AuditLog.detail).filter_by(action="registry.bulk_add"))


# --- the lived-in demo: a family a few months in ---------------------------------------------

def visible(response) -> str:
    """The page's words: tags dropped, whitespace collapsed."""
    import re

    body = re.sub(r"<(script|style)\b.*?</\1>", "", response.get_data(as_text=True), flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def demo_user(phone: str) -> User:
    user = db.session.scalar(select(User).filter_by(phone=phone))
    assert user is not None, phone
    return user


def holder_binding(holder: User, member_name: str):
    from webapp.models import KinshipBinding

    return db.session.scalar(select(KinshipBinding).where(
        KinshipBinding.holder_person_id == holder.person_id,
        KinshipBinding.member.has(name=member_name)))


@pytest.fixture
def lived_in(app):
    """The demo seeded once, through the services, on the real clock."""
    seed_demo()
    return app


def test_the_first_login_sees_the_family_bound_and_invited(lived_in, client):
    from tests.helpers import login

    login(client, demo_user("13800000001"))
    page = visible(client.get("/family/"))
    for masked in ("张*明", "张*红", "张*胜"):
        assert masked in page, masked
    assert page.count("已绑定") >= 3
    assert "张*豪" in page and "待确认" in page  # the open invitation to the 16-year-old
    aid = visible(client.get("/aid/"))
    assert "共济成员 3/8" in aid and aid.count("已生效") == 3



def test_the_first_login_has_own_on_behalf_and_aid_records(lived_in, client):
    from tests.helpers import login
    from webapp.codes.states import SettlementStatus
    from webapp.models import Settlement

    holder = demo_user("13800000001")
    login(client, holder)
    own = visible(client.get("/records/"))
    assert "仁心大药房" in own and "布洛芬缓释胶囊" in own and "板蓝根颗粒" in own
    assert "血糖试纸" in own and "已撤销" in own  # cancelled minutes later, money back
    son = visible(client.get(f"/records/?who={holder_binding(holder, '张小明').public_id}"))
    assert "阿莫西林颗粒" in son and "共济 ¥45.60" in son and "我代为出示" in son
    father = visible(client.get(f"/records/?who={holder_binding(holder, '张德胜').public_id}"))
    assert "共济 ¥128.00" in father and "共济 ¥96.40" in father
    rows = db.session.scalars(select(Settlement)).all()
    mine = [s for s in rows if s.person_id == holder.person_id]
    assert any(s.account_fen and not s.holder_person_id for s in mine)  # own, own account
    assert any(s.holder_person_id == holder.person_id and s.aid_fen for s in rows)  # 代出示+共济
    assert any(s.holder_person_id is None and s.aid_fen and s.person_id != holder.person_id
               for s in rows)  # the father's own code, paid by 共济
    assert any(s.cash_fen and s.holder_person_id for s in rows)  # before 共济 existed: cash
    assert sum(1 for s in rows if s.status == SettlementStatus.CANCELLED) == 1
    days = {clock.to_china(s.created_at).date() for s in rows}
    assert (max(days) - min(days)).days >= 60  # weeks apart, not one afternoon


def test_the_first_login_has_unread_messages_and_older_read_ones(lived_in, client):
    from tests.helpers import login
    from webapp.models import Message

    holder = demo_user("13800000001")
    mine = db.session.scalars(select(Message).filter_by(
        recipient_person_id=holder.person_id)).all()
    unread = [m for m in mine if m.read_at is None]
    assert 3 <= len(unread) < len(mine)  # recent ones unread, the older ones read
    login(client, holder)
    inbox = client.get("/messages/").get_data(as_text=True)
    assert inbox.count("app-unread") >= 3
    assert "医保支付通知" in inbox and "家庭共济支付通知" in inbox


def test_the_other_logins_show_their_part(lived_in, client):
    from tests.helpers import login
    from webapp.kinship.states import BindingStatus

    son = demo_user("13800000003")
    login(client, son)
    assert "邀请" in visible(client.get("/messages/"))
    chen = demo_user("13800000011")
    statuses = {holder_binding(chen, n).status for n in ("陈思涵", "陈思远")}
    assert statuses == {BindingStatus.PENDING_REVIEW, BindingStatus.REJECTED}
    login(client, chen)
    page = visible(client.get("/family/"))
    assert "陈*涵" in page and "待审核" in page and "陈*远" in page and "未通过" in page


def test_the_reviewer_queue_has_the_jiangsu_binding(lived_in, client):
    from tests.helpers import login

    chen = demo_user("13800000011")
    pending = holder_binding(chen, "陈思涵")
    login(client, demo_user("13600000009"))
    queue = client.get("/review/").get_data(as_text=True)
    assert f"/review/{pending.public_id}" in queue and "陈*涵" in queue
    assert "共 1 件待审核" in queue
    done = visible(client.get("/review/?tab=done"))
    assert "陈*远" in done and "材料不清晰" in done


def test_the_ledger_is_clean_on_the_demo_data(lived_in, runner):
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    accounts = db.session.scalars(select(PersonalAccount)).all()
    for account in accounts:  # every balance is its ledger's last row
        last = db.session.scalar(select(LedgerEntry).filter_by(account_id=account.id)
                                 .order_by(LedgerEntry.id.desc()).limit(1))
        assert last is None or last.balance_after_fen == account.balance_fen


def test_the_guide_names_what_the_pages_show(lived_in, client):
    from tests.helpers import login
    from webapp.demo.guide import GUIDE, guide_lines

    phones = {phone for _, phone, _ in DEMO_LOGINS["accounts"]}
    assert {phone for phone, _, _ in GUIDE} <= phones
    assert GUIDE[0][0] == "13800000001"
    login(client, demo_user("13800000001"))
    assert "¥1903.00" in GUIDE[0][2] and "¥1903.00" in visible(client.get("/"))
    assert any("13600000009" in line for line in guide_lines())


def test_init_demo_prints_which_login_shows_what(tmp_path, monkeypatch):
    """`make run`'s init-demo on an empty database: seeds the history, prints the guide.
    (The schema comes from create_all here, as in every test; tests/test_migrations.py
    proves the migrations build the same schema.)"""
    from webapp import create_app

    monkeypatch.setattr("webapp.cli.demo.create_schema", db.create_all)
    app = create_app({"ENV_NAME": "testing", "UPLOAD_FOLDER": str(tmp_path / "up"),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.sqlite'}"})
    first = app.test_cli_runner().invoke(args=["init-demo"])
    assert first.exit_code == 0, first.output
    assert "正在创建数据库并写入演示数据" in first.output
    assert "演示数据已包含近三个月的使用记录" in first.output
    assert "13800000001  张建国" in first.output and "待审核" in first.output
    second = app.test_cli_runner().invoke(args=["init-demo"])
    assert second.exit_code == 0 and "正在创建数据库" not in second.output
    with app.app_context():
        from webapp.models import Settlement

        assert db.session.scalar(select(func.count()).select_from(Settlement)) == 10
        db.session.remove()
        db.engine.dispose()


def test_demo_logins_carry_the_registration_consents(lived_in):
    from webapp.accounts import consents, documents

    holder = demo_user("13800000001")
    accepted = {kind: row.version for kind, row in consents.latest(holder).items()}
    assert accepted == documents.current_versions()
    assert consents.outdated(holder) == [] and consents.face_allowed(holder)
