"""`api-key create | revoke | list`: the POS API keys of pharmacies."""

import click
from flask import Flask
from flask.cli import AppGroup

from webapp.audit.services import Actor
from webapp.cli import ledger


def register(app: Flask) -> None:
    """Register the `api-key` command group."""
    group = AppGroup("api-key", help="定点药店 POS 接口密钥。")
    cli_actor = Actor(label="cli")

    @group.command("create")
    @click.option("--pharmacy", "pharmacy_code", required=True, help="定点机构编码 (Pharmacy.code)")
    @click.option("--name", required=True, help="密钥名称，例如 收银台1")
    def create(pharmacy_code: str, name: str) -> None:
        """Create a key and print it once (only its hash is stored)."""
        from webapp.api.keys import create_key
        from webapp.domain import DomainError

        try:
            row, raw = create_key(pharmacy_code, name, cli_actor)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        click.echo(f"已为 {row.pharmacy.name}（{row.pharmacy.code}）创建密钥「{row.name}」，"
                   f"前缀 {row.prefix}。密钥只显示这一次，请妥善保存：", err=True)
        click.echo(raw)

    @group.command("revoke")
    @click.argument("prefix")
    def revoke(prefix: str) -> None:
        """Revoke the key with this prefix (the 8 characters after 'qy_')."""
        from webapp.api.keys import revoke_key
        from webapp.domain import DomainError

        try:
            row = revoke_key(prefix, cli_actor)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        click.echo(f"已吊销密钥 {row.prefix}（{row.name}）")

    @group.command("list")
    @click.option("--pharmacy", "pharmacy_code", default=None, help="只列出该药店的密钥")
    def list_(pharmacy_code: str | None) -> None:
        """List keys: prefix, pharmacy, name, created, last used, revoked."""
        from webapp.api.keys import list_keys
        from webapp.clock import china_time

        def when(dt):
            return china_time(dt) or "-"

        for row in list_keys(pharmacy_code):
            state = f"已吊销 {when(row.revoked_at)}" if row.revoked_at else "有效"
            click.echo(f"{row.prefix}  {row.pharmacy.code}  {row.name}  创建 {when(row.created_at)}"
                       f"  最近使用 {when(row.last_used_at)}  {state}")

    app.cli.add_command(group)
    # The settlement ledger's commands belong with the POS contract (webapp/cli/ledger.py).
    ledger.register(app)
