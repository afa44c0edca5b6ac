"""`housekeeping`: every sweep a scheduler runs (e.g. hourly from cron), in one command.

Pages never write these outcomes; they read them as conditions (an invitation past its
``expires_at`` reads as 已过期). The sweeps record them: close the targets of expired
invitations (each flow's handler: 亲情账户 bindings, 家庭共济 members), ask relatives who
turned 16 to confirm and end lapsed bindings, delete expired 医保码 and old settlement msgids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import click
from flask import Flask

from webapp import clock
from webapp.codes import msgids
from webapp.codes import services as codes
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.kinship import sweeps as kinship_sweeps

CODE_BATCH = 5000


def purge_codes(batch: int = CODE_BATCH) -> int:
    """Delete codes expired for more than an hour, in batches of ``batch``; how many."""
    total = 0
    while True:
        deleted = codes.purge_expired(limit=batch)
        total += deleted
        if deleted < batch:
            return total


def _invitations(now: datetime) -> str:
    done = invitations.expire_due(now)
    detail = "，".join(f"{kind} {n} 条" for kind, n in done.items()) or "无"
    return f"已关闭过期邀请的对象：{detail}"


def _turning_age(now: datetime) -> str:
    result = kinship_sweeps.sweep_turning_age(clock.to_china(now).date())
    return f"已请求本人确认 {result.asked} 条，逾期未确认已解除 {result.ended} 条"


def _codes(now: datetime) -> str:
    return f"已清理过期医保码 {purge_codes()} 条"


def _msgids(now: datetime) -> str:
    return f"已清理过期结算报文号 {msgids.purge(now)} 条"


@dataclass(frozen=True)
class Sweep:
    """One sweep: its name (for --only) and what it runs, answering the line printed."""

    name: str
    run: Callable[[datetime], str]


SWEEPS = (
    Sweep("invitations", _invitations),
    Sweep("turning-age", _turning_age),
    Sweep("codes", _codes),
    Sweep("msgids", _msgids),
)


def run_sweeps(now: datetime | None = None, only: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Run every sweep (or the named ones) as of ``now``; (name, result line) for each.

    One failing sweep does not stop the others; its line starts with '失败'.
    """
    now = now or clock.now()
    lines: list[tuple[str, str]] = []
    for sweep in SWEEPS:
        if only and sweep.name not in only:
            continue
        try:
            lines.append((sweep.name, sweep.run(now)))
        except Exception as err:  # noqa: BLE001 - reported, and the command exits non-zero
            db.session.rollback()
            lines.append((sweep.name, f"失败：{err!r}"))
    return lines


def register(app: Flask) -> None:
    """Register the `housekeeping` command."""

    @app.cli.command("housekeeping")
    @click.option("--only", multiple=True, type=click.Choice([s.name for s in SWEEPS]),
                  help="Run only this sweep (may be repeated).")
    def housekeeping(only: tuple[str, ...]) -> None:
        """Run every sweep (expired invitations, turning 16, code and msgid purges)."""
        failed = False
        for name, line in run_sweeps(only=only):
            click.echo(f"[{name}] {line}")
            failed = failed or line.startswith("失败")
        if failed:
            raise click.ClickException("部分清理任务失败")
