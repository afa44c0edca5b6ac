"""Operator commands: `registry add | show`, `pharmacy add | add-staff`, `reviewer add`."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.idnumber import make_id_number
from webapp.models import AuditLog, InsuredPerson, LedgerEntry, Pharmacy, User

ID_1990 = make_id_number("360102", date(1990, 1, 1), 123)


def count(model) -> int:
    """Rows of a table."""
    return db.session.scalar(select(func.count()).select_from(model))


def registry_add(runner, *extra: str):
    """`registry add` for 张三 (employee) with the given extra options."""
    return runner.invoke(args=["registry", "add", "--name", "张三", "--id-number", ID_1990,
                               "--phone", "13812345678", "--insurance-type", "employee",
                               *extra])


def test_registry_add_prints_the_person_and_converts_yuan_exactly(runner):
    result = registry_add(runner, "--balance", "0.29")
    assert result.exit_code == 0, result.output
    for text in ("已加入参保人库", "张三", ID_1990, "性别：男", "1990-01-01", "江西省（360000）",
                 "职工医保", "参保中", "¥0.29"):
        assert text in result.output
    person = db.session.scalar(select(InsuredPerson).filter_by(id_number=ID_1990))
    assert person.account.balance_fen == 29
    assert [e.amount_fen for e in db.session.scalars(select(LedgerEntry))] == [29]
    log = db.session.scalar(select(AuditLog).filter_by(action="registry.add"))
    assert log.actor_label == "cli"


def test_registry_add_accepts_chinese_choices_and_flags(runner):
    result = runner.invoke(args=[
        "registry", "add", "--name", "李芳", "--id-number",
        make_id_number("320102", date(1960, 5, 5), 222), "--insurance-type", "居民医保",
        "--status", "暂停", "--region", "460000", "--face-check-fails", "--card-not-activated"])
    assert result.exit_code == 0, result.output
    person = db.session.scalar(select(InsuredPerson).filter_by(name="李芳"))
    assert (person.insurance_type, person.status, person.region_code) == (
        "resident", "suspended", "460000")
    assert person.face_check_fails and not person.card_activated
    assert "海南省" in result.output and "总是失败" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--balance", "-5"], "个人账户余额不能为负数"),
        (["--balance", "1.234"], "余额格式不正确"),
        (["--balance", "ten"], "余额格式不正确"),
        (["--insurance-type", "resident", "--balance", "3"], "居民医保没有个人账户，不能设置余额"),
        (["--status", "gone"], "参保状态应为 参保中（active）或 暂停（suspended）"),
        (["--region", "990000"], "参保地应为6位省级行政区划代码"),
        (["--phone", "12345"], "请输入正确的11位手机号"),
        (["--name", "Tom"], "姓名应为2–20个汉字"),
        (["--id-number", ID_1990[:-1]], "身份证号应为18位"),
    ],
)
def test_registry_add_refusals_exit_non_zero_with_the_message(runner, extra, message):
    result = registry_add(runner, *extra)
    assert result.exit_code != 0
    assert message in result.stderr
    assert count(InsuredPerson) == 0


def test_registry_add_refuses_a_duplicate(runner):
    assert registry_add(runner).exit_code == 0
    result = registry_add(runner)
    assert result.exit_code == 1 and "该身份证号已在参保人库中" in result.stderr
    assert count(InsuredPerson) == 1


def test_registry_show_prints_full_data_for_the_operator(runner, factory):
    person = factory.person(name="张小明", age=8, insurance_type="resident")
    result = runner.invoke(args=["registry", "show", person.id_number.lower()])
    assert result.exit_code == 0, result.output
    for text in ("张小明", person.id_number, "8周岁", "居民医保", "无（居民医保）", "未注册"):
        assert text in result.output


def test_registry_show_shows_balance_and_login(runner, factory):
    user = factory.user(balance_fen=235_000, name="张建国")
    result = runner.invoke(args=["registry", "show", user.person.id_number])
    assert "有，余额 ¥2350.00" in result.output and user.phone in result.output


@pytest.mark.parametrize(
    ("number", "message"),
    [(ID_1990, "参保人库中没有该身份证号"), ("123", "身份证号应为18位")],
)
def test_registry_show_refuses_unknown_or_malformed(runner, number, message):
    result = runner.invoke(args=["registry", "show", number])
    assert result.exit_code == 1 and message in result.stderr


PHARMACY = ["pharmacy", "add", "--name", "仁心大药房", "--code", "P36010200001",
            "--region", "360000", "--staff-phone", "13600000001",
            "--staff-password", "Demo1234", "--staff-name", "王敏"]


def test_pharmacy_add_creates_pharmacy_and_staff_login(runner):
    result = runner.invoke(args=PHARMACY)
    assert result.exit_code == 0, result.output
    assert "已创建定点药店 仁心大药房（编码 P36010200001，江西省）" in result.output
    assert "13600000001（王敏）" in result.output
    staff = db.session.scalar(select(User).filter_by(phone="13600000001"))
    assert staff.role == "pharmacy" and staff.pharmacy.code == "P36010200001"
    assert staff.check_password("Demo1234")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--code", "P36010200001", "该定点机构编码已存在"),
        ("--staff-phone", "13600000001", "该手机号已被注册"),
        ("--staff-password", "12345678", "密码至少8位，且须同时包含字母和数字"),
        ("--region", "000000", "参保地应为6位省级行政区划代码"),
        ("--code", "有汉字", "定点机构编码应为1–20位字母或数字"),
    ],
)
def test_pharmacy_add_refusals(runner, option, value, message):
    assert runner.invoke(args=PHARMACY).exit_code == 0
    args = PHARMACY.copy()
    args[args.index("--code") + 1] = "P2"
    args[args.index("--staff-phone") + 1] = "13600000002"
    args[args.index(option) + 1] = value
    result = runner.invoke(args=args)
    assert result.exit_code == 1 and message in result.stderr
    assert (count(Pharmacy), count(User)) == (1, 1)


def test_pharmacy_add_staff(runner):
    runner.invoke(args=PHARMACY)
    result = runner.invoke(args=["pharmacy", "add-staff", "--code", "P36010200001",
                                 "--phone", "13600000003", "--password", "Shop2024",
                                 "--name", "钱多多"])
    assert result.exit_code == 0, result.output
    assert "已为 仁心大药房 添加店员账号：13600000003（钱多多）" in result.output
    unknown = runner.invoke(args=["pharmacy", "add-staff", "--code", "X1", "--phone",
                                  "13600000004", "--password", "Shop2024", "--name", "钱多"])
    assert unknown.exit_code == 1 and "没有该定点机构编码的药店" in unknown.stderr


def test_reviewer_add_and_refusals(runner):
    ok = runner.invoke(args=["reviewer", "add", "--phone", "13600000009", "--password",
                             "Review2024", "--name", "周婷"])
    assert ok.exit_code == 0, ok.output
    assert "已创建审核员账号：13600000009（周婷），角色 医保经办审核员" in ok.output
    again = runner.invoke(args=["reviewer", "add", "--phone", "13600000009", "--password",
                                "Review2024", "--name", "周婷"])
    assert again.exit_code == 1 and "该手机号已被注册" in again.stderr
    weak = runner.invoke(args=["reviewer", "add", "--phone", "13600000008", "--password",
                               "reviewer", "--name", "周婷"])
    assert weak.exit_code == 1 and "密码至少8位，且须同时包含字母和数字" in weak.stderr
    assert count(User) == 1


def test_missing_required_option_exits_non_zero(runner):
    result = runner.invoke(args=["registry", "add", "--name", "张三"])
    assert result.exit_code == 2
    assert count(InsuredPerson) == 0


# ---- housekeeping --------------------------------------------------------------------------

def test_housekeeping_runs_every_sweep(runner, monkeypatch):
    """`flask housekeeping` runs each sweep once, all as of the same moment."""
    from webapp.cli import housekeeping

    calls: dict[str, object] = {}

    def record(name, answer):
        def sweep(*args, **kwargs):
            calls[name] = args or kwargs
            return answer
        return sweep

    class Turned:
        asked, ended = 2, 1

    monkeypatch.setattr(housekeeping.invitations, "expire_due",
                        record("invitations", {"aid": 4, "kinship": 3}))
    monkeypatch.setattr(housekeeping.kinship_sweeps, "sweep_turning_age",
                        record("turning-age", Turned()))
    monkeypatch.setattr(housekeeping.codes, "purge_expired", record("codes", 5))
    monkeypatch.setattr(housekeeping.msgids, "purge", record("msgids", 6))
    result = runner.invoke(args=["housekeeping"])
    assert result.exit_code == 0, result.output
    assert set(calls) == {"invitations", "turning-age", "codes", "msgids"}
    assert calls["invitations"] == calls["msgids"]  # one `now` for all
    for line in ("[invitations] 已关闭过期邀请的对象：aid 4 条，kinship 3 条",
                 "[turning-age] 已请求本人确认 2 条，逾期未确认已解除 1 条",
                 "[codes] 已清理过期医保码 5 条", "[msgids] 已清理过期结算报文号 6 条"):
        assert line in result.output

    calls.clear()
    result = runner.invoke(args=["housekeeping", "--only", "codes"])
    assert result.exit_code == 0 and set(calls) == {"codes"}


def test_housekeeping_reports_a_failing_sweep_and_runs_the_rest(runner, monkeypatch):
    """One sweep raising does not stop the others; the command exits non-zero."""
    from webapp.cli import housekeeping

    def broken(now):
        raise RuntimeError("boom")

    monkeypatch.setattr(housekeeping.msgids, "purge", broken)
    result = runner.invoke(args=["housekeeping"])
    assert result.exit_code == 1
    assert "[msgids] 失败：RuntimeError('boom')" in result.output
    assert "[codes] 已清理过期医保码" in result.output and "部分清理任务失败" in result.output


def test_housekeeping_expires_invitations_and_purges_codes(runner, factory):
    """For real: an unanswered invitation past its validity → 已过期; an old code is deleted;
    until the sweep runs, the pages only read (nothing is written by a GET)."""
    from datetime import timedelta

    from tests import lifecycle_factories as lf
    from tests.helpers import login
    from tests.test_codes import issue
    from webapp import clock
    from webapp.kinship.states import BindingStatus
    from webapp.models import InsuranceCode, KinshipBinding

    holder = factory.user(name="王芳", age=40, male=False)
    mother = factory.person(name="刘秀兰", age=66, male=False)
    row, _, _ = lf.invited(holder.person, mother, "parent")
    issue(holder)
    assert count(InsuranceCode) == 1
    clock.freeze(clock.now() + timedelta(days=4))

    client = runner.app.test_client()
    login(client, holder)
    before = lf.snapshot()
    for path in ("/", "/family/", f"/family/members/{row.public_id}", "/aid/", "/messages/"):
        assert client.get(path).status_code == 200, path
    assert lf.snapshot() == before  # GET pages do not write

    result = runner.invoke(args=["housekeeping"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(KinshipBinding, row.id).status == BindingStatus.EXPIRED
    assert count(InsuranceCode) == 0
    assert "kinship 1 条" in result.output and "已清理过期医保码 1 条" in result.output
