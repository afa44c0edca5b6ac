"""`sms outbox`: the simulated text messages, newest first."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from webapp import clock


def register(app: Flask) -> None:
    """Register the `sms` command group."""
    sms = AppGroup("sms", help="短信（模拟发件箱）。")

    @sms.command("outbox")
    @click.option("--phone", default=None, help="只看发给该手机号的短信")
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
                  help="最多显示几条")
    def outbox(phone, limit) -> None:
        """Show the newest messages of the outbox."""
        from webapp.accounts.services import normalise_phone
        from webapp.sms.outbox import latest

        rows = latest(limit, normalise_phone(phone) if phone else None)
        if not rows:
            click.echo("发件箱为空")
            return
        for row in rows:
            click.echo(f"{clock.china_time(row.created_at, '%Y-%m-%d %H:%M:%S')}  {row.phone}  {row.text}")

    app.cli.add_command(sms)
