"""`codes purge`: delete 医保码 rows that expired more than an hour ago."""

import click
from flask import Flask
from flask.cli import AppGroup


def register(app: Flask) -> None:
    """Register the `codes` command group."""
    group = AppGroup("codes", help="医保码 maintenance.")

    @group.command("purge")
    @click.option("--batch", default=5000, show_default=True, help="Rows deleted per transaction.")
    def purge(batch: int) -> None:
        """Delete codes expired for more than an hour (in batches); print how many."""
        from webapp.codes.services import purge_expired

        total = 0
        while True:
            deleted = purge_expired(limit=batch)
            total += deleted
            if deleted < batch:
                break
        click.echo(f"已清理过期医保码 {total} 条")

    app.cli.add_command(group)
