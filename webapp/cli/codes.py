"""`codes purge`: delete 医保码 rows that expired more than an hour ago."""

import click
from flask import Flask
from flask.cli import AppGroup

from webapp.cli.housekeeping import CODE_BATCH, purge_codes


def register(app: Flask) -> None:
    """Register the `codes` command group."""
    group = AppGroup("codes", help="医保码 maintenance.")

    @group.command("purge")
    @click.option("--batch", default=CODE_BATCH, show_default=True,
                  help="Rows deleted per transaction.")
    def purge(batch: int) -> None:
        """Delete codes expired for more than an hour (in batches); print how many."""
        click.echo(f"已清理过期医保码 {purge_codes(batch)} 条")

    app.cli.add_command(group)
