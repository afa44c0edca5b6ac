"""Demo data for `make run` (``flask init-demo``) and `flask seed-demo`.

``people``: three families (江西, 江苏, 海南), two pharmacies, a reviewer and their logins.
``history``: what the families have done over the last months, through the services —
bindings, an invitation, a 共济 group, settlements, messages, a review queue.
``guide``: which login shows what (printed by the CLI, quoted in the README).
``synthetic``: bulk synthetic people for scale tests.

``seed_demo()`` is idempotent: a second run changes nothing.
"""

from __future__ import annotations

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
    """Create the demo registry, logins, pharmacies and reviewer; a second run changes nothing."""
    return seed_people()
