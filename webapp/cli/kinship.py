"""`kinship expire` and `kinship sweep`: the 亲情账户 housekeeping a scheduler runs daily."""

from datetime import date, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from webapp.kinship.sweeps import expire_due, sweep_turning_age


def register(app: Flask) -> None:
    """Register the `kinship` command group."""
    group = AppGroup("kinship", help="亲情账户 maintenance (expired invitations, turning 16).")

    @group.command("expire")
    def expire() -> None:
        """待确认 bindings whose invitation expired unanswered → 已过期 (both sides notified)."""
        click.echo(f"已过期的待确认绑定 {expire_due()} 条")

    @group.command("sweep")
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                  help="Run as if today were this China date (YYYY-MM-DD).")
    def sweep(today: datetime | None) -> None:
        """Ask relatives who turned 16 to confirm; end bindings whose confirmation lapsed."""
        day: date | None = today.date() if today else None
        expired = expire_due()
        result = sweep_turning_age(day)
        click.echo(f"已请求本人确认 {result.asked} 条，逾期未确认已解除 {result.ended} 条，"
                   f"已过期的待确认绑定 {expired} 条")

    app.cli.add_command(group)
