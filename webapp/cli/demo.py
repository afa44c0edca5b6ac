"""`init-demo`: create the database when missing and fill it with demo data."""

import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import inspect

from webapp.demo import DEMO_LOGINS, seed_demo
from webapp.demo.guide import guide_lines
from webapp.extensions import db


def database_is_empty() -> bool:
    """Whether the configured database has none of the app's tables yet."""
    return not inspect(db.engine).has_table("user_account")


def create_schema() -> None:
    """Bring the schema to the newest migration (or create it when there are no migrations)."""
    migrations = Path(current_app.root_path).parent / "migrations" / "versions"
    if migrations.is_dir() and any(migrations.glob("*.py")):
        upgrade(directory=str(migrations.parent))
    else:
        db.create_all()


def register(app: Flask) -> None:
    """Register the demo commands."""

    @app.cli.command("init-demo")
    def init_demo() -> None:
        """Create the database with demo data if it is missing; print the demo logins."""
        if database_is_empty():
            click.echo("正在创建数据库并写入演示数据 …")
            create_schema()
            seed_demo()
        click.echo(f"\n演示账号（密码均为 {DEMO_LOGINS['password']}）：")
        for role, phone, who in DEMO_LOGINS["accounts"]:
            click.echo(f"  {role:<8} {phone}  {who}")
        click.echo("")
        for line in guide_lines():
            click.echo(line)
        port = os.environ.get("FLASK_RUN_PORT", "5000")
        click.echo(f"\n打开 http://127.0.0.1:{port}/ （手机可用本机局域网地址访问）\n")
