"""Demo data for `make run` (``flask init-demo``) and `flask seed-demo`.

``people``: three families (江西, 江苏, 海南), two pharmacies, a reviewer and their logins.
``history``: what the families have done over the last months, through the services —
bindings, an invitation, a 共济 group, settlements, messages, a review queue.
``guide``: which login shows what (printed by the CLI, quoted in the README).
``synthetic``: bulk synthetic people for scale tests.

``seed_demo()`` is idempotent: a second run changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from webapp import clock
from webapp.demo import history
from webapp.demo.people import (
    DEMO_LOGINS,
    FAMILIES,
    PASSWORD,
    STAFF,
    DemoPerson,
    DemoStaff,
    SeedResult,
    seed_people,
    years_ago,
)
from webapp.demo.synthetic import add_synthetic_people, bulk_insert, synthetic_identity

__all__ = [
    "DEMO_LOGINS", "FAMILIES", "PASSWORD", "STAFF", "DemoPerson", "DemoStaff", "SeedResult",
    "add_synthetic_people", "bulk_insert", "seed_demo", "synthetic_identity", "years_ago",
]


def seed_demo() -> SeedResult:
    """The demo registry and logins, then a few months of their history up to now.

    The people are created ``history.HISTORY_DAYS`` before now (their ages counted on today),
    the events at their moments; a second run changes nothing.
    """
    seed_at, today = clock.now(), clock.today()
    with clock.frozen_at(seed_at - timedelta(days=history.HISTORY_DAYS)):
        result = seed_people(today)
    if history.play(seed_at):
        result.created.append("演示历史：近三个月的绑定、邀请、家庭共济、结算、审核和消息")
    return result
