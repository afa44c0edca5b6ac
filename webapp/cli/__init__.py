"""Operator CLI: `flask --app webapp <command>`; each group lives in its own module."""

from flask import Flask

from webapp.cli import api, codes, demo, housekeeping, kinship, registry, staff
from webapp.sms import cli as sms


def init_commands(app: Flask) -> None:
    """Register every command group."""
    for module in (demo, codes, api, kinship, registry, staff, housekeeping, sms):
        module.register(app)
