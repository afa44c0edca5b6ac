"""`registry add | show` (the 参保人库) and `seed-demo [--people N]`."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from webapp import clock
from webapp.audit.services import Actor
from webapp.cli.demo import create_schema, database_is_empty
from webapp.demo import DEMO_LOGINS, add_synthetic_people, seed_demo
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.idnumber import IdNumberError, parse_id_number
from webapp.models import InsuredPerson, User
from webapp.money import yuan
from webapp.regions import province_name
from webapp.registry.services import add_person, find_person, yuan_to_fen
from webapp.registry.states import InsuredStatus

CLI_ACTOR = Actor(label="cli")


def show_person(person: InsuredPerson) -> list[str]:
    """The operator's view of a registry person: full data, no masking."""
    login = db.session.scalar(select(User.phone).where(User.person_id == person.id))
    account = "无（居民医保）"
    if person.account is not None:
        account = f"有，余额 ¥{yuan(person.account.balance_fen)}"
    return [
        f"姓名：{person.name}",
        f"身份证号：{person.id_number}",
        f"性别：{person.gender}",
        f"出生日期：{person.birth_date:%Y-%m-%d}（{person.age_on(clock.today())}周岁）",
        f"参保地：{province_name(person.region_code)}（{person.region_code}）",
        f"险种：{person.insurance_label}",
        f"参保状态：{person.status_label}",
        f"医保卡：{'已激活' if person.card_activated else '未激活'}",
        f"个人账户：{account}",
        f"手机号：{person.phone or '无'}",
        f"登录账号：{login or '未注册'}",
        f"人脸核验：{'演示设置：总是失败' if person.face_check_fails else '正常'}",
    ]


def register(app: Flask) -> None:
    """Register the `registry` group and `seed-demo`."""
    group = AppGroup("registry", help="参保人库（模拟的国家医保参保人信息）。")

    @group.command("add")
    @click.option("--name", required=True, help="姓名（2–20个汉字，可含·）")
    @click.option("--id-number", required=True, help="18位居民身份证号")
    @click.option("--phone", default=None, help="手机号（可空，例如幼儿）")
    @click.option("--region", default=None, help="参保地省级代码，默认取身份证号所属省份")
    @click.option("--insurance-type", required=True,
                  help="employee / resident（或 职工医保 / 居民医保）")
    @click.option("--status", default=InsuredStatus.ACTIVE.value, show_default=True,
                  help="active / suspended（或 参保中 / 暂停）")
    @click.option("--balance", default="0", show_default=True,
                  help="个人账户期初余额（元，最多两位小数；仅职工医保）")
    @click.option("--card-not-activated", is_flag=True, help="医保卡未激活")
    @click.option("--face-check-fails", is_flag=True, help="演示：此人的人脸核验总是失败")
    def add(name, id_number, phone, region, insurance_type, status, balance,
            card_not_activated, face_check_fails) -> None:
        """Add a person to the registry and print them."""
        try:
            person = add_person(
                name, id_number, phone, region_code=region, insurance_type=insurance_type,
                status=status, balance_fen=yuan_to_fen(balance),
                card_activated=not card_not_activated, face_check_fails=face_check_fails,
                actor=CLI_ACTOR)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        click.echo("已加入参保人库：")
        for line in show_person(person):
            click.echo(f"  {line}")

    @group.command("show")
    @click.argument("id_number")
    def show(id_number: str) -> None:
        """Print a registry person by ID number."""
        try:
            parse_id_number(id_number)
        except IdNumberError as err:
            raise click.ClickException(err.reason) from None
        person = find_person(id_number)
        if person is None:
            raise click.ClickException("参保人库中没有该身份证号")
        for line in show_person(person):
            click.echo(line)

    app.cli.add_command(group)

    @app.cli.command("seed-demo")
    @click.option("--people", type=click.IntRange(min=0), default=0, show_default=True,
                  help="另外批量生成 N 名合成参保人（用于规模测试）")
    def seed_demo_command(people: int) -> None:
        """Seed the demo registry (idempotent); with --people N add N synthetic people."""
        if database_is_empty():
            click.echo("数据库为空，正在创建表结构 …")
            create_schema()
        result = seed_demo()
        if result.people or result.users or result.pharmacies:
            click.echo(f"演示数据：新建参保人 {result.people} 名、账号 {result.users} 个、"
                       f"药店 {result.pharmacies} 家")
        else:
            click.echo("演示数据已存在，未作改动")
        click.echo(f"演示账号（密码均为 {DEMO_LOGINS['password']}）：")
        for role, phone, who in DEMO_LOGINS["accounts"]:
            click.echo(f"  {role:<8} {phone}  {who}")
        if people:
            started = time.perf_counter()
            added = add_synthetic_people(people, CLI_ACTOR)
            elapsed = time.perf_counter() - started
            click.echo(f"已批量生成合成参保人 {added} 名，用时 {elapsed:.2f} 秒")
