"""`ledger check` (every balance = its ledger, splits add up, cancels mirror) and `msgids purge`."""

import click
from flask import Flask
from flask.cli import AppGroup

from webapp.codes import msgids
from webapp.ledger.check import check


def register(app: Flask) -> None:
    """Register the `ledger` and `msgids` command groups."""
    ledger = AppGroup("ledger", help="个人账户台账核对。")

    @ledger.command("check")
    def check_command() -> None:
        """Check every balance, split and cancel; exit 1 and list the offending rows."""
        problems = check()
        for problem in problems:
            click.echo(str(problem))
        if problems:
            click.echo(f"台账核对发现 {len(problems)} 处问题", err=True)
            raise SystemExit(1)
        click.echo("台账核对通过：余额、结算拆分与撤销均一致")

    messages = AppGroup("msgids", help="报文ID（msgid）保留与清理。")

    @messages.command("purge")
    def purge_command() -> None:
        """Delete message ids older than the policy's retention (pharmacy.msgid_keep_days)."""
        click.echo(f"已清理过期报文ID {msgids.purge()} 条")

    app.cli.add_command(ledger)
    app.cli.add_command(messages)
