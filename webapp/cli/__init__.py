"""Operator CLI: `flask --app webapp <command>`; each group lives in its own module."""

from flask import Flask


def init_commands(app: Flask) -> None:
    """Register every command group."""
    from webapp.cli import api, codes, demo, kinship, registry, staff

    from webapp.sms import cli as sms

    for module in (demo, codes, api, kinship, registry, staff, sms):
        module.register(app)
