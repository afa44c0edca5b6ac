"""`pharmacy add | add-staff` and `reviewer add`: staff logins created by the operator."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from webapp.audit.services import Actor
from webapp.cli.pharmacy import add_commands
from webapp.domain import DomainError
from webapp.regions import province_name
from webapp.registry.services import add_pharmacy, add_pharmacy_staff, add_reviewer

CLI_ACTOR = Actor(label="cli")


def _fail(err: DomainError) -> click.ClickException:
    """A domain error as a CLI error (Chinese message on stderr, exit status 1)."""
    return click.ClickException(err.message)


def register(app: Flask) -> None:
    """Register the `pharmacy` and `reviewer` command groups."""
    pharmacy = AppGroup("pharmacy", help="定点药店及其工作人员账号。")
    reviewer = AppGroup("reviewer", help="医保经办审核员账号。")
    add_commands(pharmacy)

    @pharmacy.command("add")
    @click.option("--name", required=True, help="药店名称，例如 仁心大药房")
    @click.option("--code", required=True, help="定点机构编码（1–20位字母或数字）")
    @click.option("--region", required=True, help="所在省份代码，例如 360000")
    @click.option("--staff-phone", required=True, help="店员登录手机号")
    @click.option("--staff-password", required=True, help="店员密码（至少8位，含字母和数字）")
    @click.option("--staff-name", default="店员", show_default=True, help="店员姓名")
    def pharmacy_add(name, code, region, staff_phone, staff_password, staff_name) -> None:
        """Add a pharmacy with its first staff login."""
        try:
            shop, user = add_pharmacy(name, code, region, staff_phone, staff_password,
                                      staff_name, CLI_ACTOR)
        except DomainError as err:
            raise _fail(err) from None
        click.echo(f"已创建定点药店 {shop.name}（编码 {shop.code}，{province_name(shop.region_code)}）")
        click.echo(f"店员账号：{user.phone}（{user.display_name}），角色 {user.role_label}")

    @pharmacy.command("add-staff")
    @click.option("--code", required=True, help="药店的定点机构编码")
    @click.option("--phone", required=True, help="登录手机号")
    @click.option("--password", required=True, help="密码（至少8位，含字母和数字）")
    @click.option("--name", required=True, help="店员姓名")
    def pharmacy_add_staff(code, phone, password, name) -> None:
        """Add another staff login to an existing pharmacy."""
        try:
            user = add_pharmacy_staff(code, phone, password, name, CLI_ACTOR)
        except DomainError as err:
            raise _fail(err) from None
        click.echo(f"已为 {user.pharmacy.name} 添加店员账号：{user.phone}（{user.display_name}）")

    @reviewer.command("add")
    @click.option("--phone", required=True, help="登录手机号")
    @click.option("--password", required=True, help="密码（至少8位，含字母和数字）")
    @click.option("--name", required=True, help="审核员姓名")
    def reviewer_add(phone, password, name) -> None:
        """Add a reviewer (医保经办审核员) login."""
        try:
            user = add_reviewer(phone, password, name, CLI_ACTOR)
        except DomainError as err:
            raise _fail(err) from None
        click.echo(f"已创建审核员账号：{user.phone}（{user.display_name}），角色 {user.role_label}")

    app.cli.add_command(pharmacy)
    app.cli.add_command(reviewer)
